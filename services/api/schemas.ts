import { Type } from '../../lib/typebox'
import { NICKNAME_PATTERN } from '../../lib/models'

// Request schemas shared by the routes; responses are in responses.ts.

// Unix seconds and database ids, bounded so no value can overflow a column.
export const Id = Type.Integer({ minimum: 1, maximum: 2147483647 })
export const IdParams = Type.Object({ id: Id })
export const UnixTime = Type.Integer({ minimum: 0, maximum: 253402300799 })
export const Nickname = Type.String({ minLength: 1, maxLength: 32, pattern: NICKNAME_PATTERN, description: '1-32 visible characters' })
export const Password = Type.String({ minLength: 8, maxLength: 256 })
