import { Type } from 'typebox'
import { ErrorSchema } from '../../plugins/errors'
import { NICKNAME_PATTERN } from '../../lib/models'

export { UserSchema, MessageSchema } from '../../lib/models'

// Unix seconds and database ids, bounded so no value can overflow a column.
export const Id = Type.Integer({ minimum: 1, maximum: 2147483647 })
export const IdParams = Type.Object({ id: Id })
export const UnixTime = Type.Integer({ minimum: 0, maximum: 253402300799 })
export const Nickname = Type.String({ minLength: 1, maxLength: 32, pattern: NICKNAME_PATTERN, description: '1-32 visible characters' })
export const Password = Type.String({ minLength: 8, maxLength: 256 })
export const NoContent = Type.Null({ description: 'No content' })

export const errors = (...codes: number[]): Record<number, typeof ErrorSchema> =>
  Object.fromEntries(codes.map((code) => [code, ErrorSchema]))
