import t from 'tap'
import { Type } from 'typebox'
import { userJson } from '../plugins/models'
t.test('x', async (t) => { t.equal(typeof Type.Object, 'function'); t.ok(userJson) })
