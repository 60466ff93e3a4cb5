import type { Db } from './db'
import { GENERAL_ROOM_ID } from './queries/access'
import { canRead } from './queries/rooms'
import { addMember, roleIn } from './queries/memberships'

// Rooms: the queries are in lib/queries/ (access.ts holds the read rule once; rooms.ts,
// memberships.ts, messages.ts), re-exported here for the callers that import them from lib/rooms.
export { GENERAL_ROOM_ID, lockRooms, readableBy } from './queries/access'
export { UNREAD_CAP, canRead, createRoom, directKey, directRoom, getRoom, listRooms, nameKey, updateRoom, type NewRoom } from './queries/rooms'
export { addMember, listMembers, markRead, removeMember, roleIn, type MarkRead, type MemberChange } from './queries/memberships'
export { PAGE_QUERIES, messagePage, type Page, type PageQuery } from './queries/messages'

// Whether `userId` may post into `roomId`; a public room not yet joined is joined (everyone is in general).
export async function enterToPost (db: Db, userId: number, roomId: number): Promise<boolean> {
  // The role and the read rule alone: the full room view (member and unread counts) is not needed here.
  if (roomId === GENERAL_ROOM_ID || await roleIn(db, roomId, userId) !== null) return true
  // A room readable by a non-member is a public one: posting joins it.
  return await canRead(db, userId, roomId) && await addMember(db, roomId, userId, userId) !== 'no_room'
}
