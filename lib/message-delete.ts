import { inTransaction, type Db } from './db'
import { publishMessage } from './events'
import { lockDeletable, lockMessageRoom, tombstoneMessage } from './queries/messages'

// Deleting a message: the row stays as a tombstone (id and times kept, text emptied, `deleted`
// set), published as a Message update so every reader's sockets drop it, live and on replay.
// Worker jobs that write a message (edit_message, preview_links) skip deleted rows, so a job
// queued before the delete and run after it cannot bring the text back.

export type DeleteOutcome = 'deleted' | 'already_deleted' | 'not_found' | 'forbidden'

// `userId` deletes message `messageId`. A message in a room the user may not read is 'not_found',
// exactly as a missing one, and is checked before anything changes. Deleting a tombstone again
// (for those allowed) changes and publishes nothing: 'already_deleted'.
export async function deleteMessage (db: Db, userId: number, messageId: number): Promise<DeleteOutcome> {
  return inTransaction(db, async (client) => {
    // As the edit does: a removal from a private room commits before the read check, or waits for the delete.
    await lockMessageRoom(client, messageId)
    const message = await lockDeletable(client, messageId, userId)
    if (message === null) return 'not_found'
    if (!message.allowed) return 'forbidden'
    if (message.deleted) return 'already_deleted'
    await publishMessage(client, await tombstoneMessage(client, messageId))
    return 'deleted'
  })
}
