import type { Db } from './db'
import { announce, userChanged } from './auth-cache'
import { messageJson, userJson, type MessageRow, type UserRow } from './models'
import * as events from './queries/events'

export { EVENTS_CHANNEL, PUBLISH_LOCK, publishEvent, publishEvents, type EventClass } from './queries/events'

// Every process caching this user drops it when the change commits.
export async function publishUser (db: Db, user: UserRow): Promise<bigint> {
  await announce(db, userChanged(user.id))
  return events.publishEvent(db, 'User', userJson(user))
}

export const publishMessage = (db: Db, message: MessageRow): Promise<bigint> => events.publishEvent(db, 'Message', messageJson(message))
