// Publishing a model change as an event: the JSON every client sees, and the caches that must drop the user.
import type { Db } from './db'
import { announce, userChanged } from './auth-cache'
import { messageJson, userJson, type MessageRow, type UserRow } from './models'
import { publishEvent } from './queries/events'

// Every process caching this user drops it when the change commits.
export async function publishUser (db: Db, user: UserRow): Promise<bigint> {
  await announce(db, userChanged(user.id))
  return publishEvent(db, 'User', userJson(user))
}

export const publishMessage = (db: Db, message: MessageRow): Promise<bigint> => publishEvent(db, 'Message', messageJson(message))
