import type { Db } from '../../lib/db'
import { ROOM_NOT_FOUND } from '../../lib/queries/access'
import { canRead } from '../../lib/queries/rooms'
import { httpError } from '../../plugins/errors'

// Throws the missing room's 404 unless `viewer` (null: anonymous) may read the room.
export async function mustRead (db: Db, viewer: number | null, roomId: number): Promise<void> {
  if (!await canRead(db, viewer, roomId)) throw httpError(404, ROOM_NOT_FOUND)
}
