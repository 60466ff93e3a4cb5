// The access rule, written once: a public room is readable by anyone (anonymous included), a
// private or direct room by its members only. Everyone is a member of general (room 1) without a row.

export const GENERAL_ROOM_ID = 1

// What every path answers for a missing room, and for a private or direct room of others alike.
export const ROOM_NOT_FOUND = 'Room not found'

// The read rule as a SQL condition on a row of rooms already in the statement (alias `r`): the
// user whose id is the expression `user` may read it.
export const roomReadableBy = (r: string, user: string): string =>
  `(${r}.kind = 'public' OR EXISTS (SELECT 1 FROM memberships me WHERE me.room_id = ${r}.id AND me.user_id = ${user}))`

// The same rule for a room id, also for statements that check it as they write (the worker's
// batch): the room whose id is the expression `room` may be read by the user whose id is `user`.
export const readableBy = (room: string, user: string): string =>
  `EXISTS (SELECT 1 FROM rooms r WHERE r.id = ${room} AND ${roomReadableBy('r', user)})`

// Run before such a check, as its own statement: a removal (which locks the room FOR UPDATE) then
// commits before the check's snapshot, or waits until the write commits, never between. Public
// rooms are readable by anyone, so they are not locked. `ids`: an int[] expression.
export const lockRooms = (ids: string): string => `SELECT 1 FROM rooms WHERE id = ANY(${ids}) AND kind <> 'public' ORDER BY id FOR SHARE`
