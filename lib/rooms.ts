// Entering a room to post: the read rule, and joining a public room on the first post.
import type { Db } from './db'
import { GENERAL_ROOM_ID } from './queries/access'
import { canRead } from './queries/rooms'
import { addMember, roleIn } from './queries/memberships'

// Whether `userId` may post into `roomId`; a public room not yet joined is joined (everyone is in general).
export async function enterToPost (db: Db, userId: number, roomId: number): Promise<boolean> {
  // The role and the read rule alone: the full room view (member and unread counts) is not needed here.
  if (roomId === GENERAL_ROOM_ID || await roleIn(db, roomId, userId) !== null) return true
  // A room readable by a non-member is a public one: posting joins it.
  return await canRead(db, userId, roomId) && await addMember(db, roomId, userId, userId) !== 'no_room'
}
