import t from 'tap'
import pg from 'pg'
import { randomUUID } from 'node:crypto'
import { Prisma, PrismaClient } from '../../generated/prisma/client'
import { PrismaPg } from '@prisma/adapter-pg'
import { createDatabase } from '../../plugins/database'
import { migrate, readMigrations } from '../../lib/migrations'
import { testDatabase } from '../helper'

// Hand-written SQL must match schema.prisma: every scalar field of every model is
// written with a non-default value through the generated client and read back.
t.test('the migrations match the Prisma schema', async (t) => {
  const db = createDatabase({ DATABASE_URL: await testDatabase(t), DATABASE_POOL_SIZE: 2 })
  // The generated client reads every field back as the schema types it; the services never load it.
  const prisma = new PrismaClient({ adapter: new PrismaPg(db.pool) })
  t.teardown(async () => {
    await prisma.$disconnect()
    await db.close()
  })
  const at = (iso: string): Date => new Date(iso)
  const user = { id: 41, createdAt: at('2026-01-01T00:00:00.123Z'), updatedAt: at('2026-01-02T00:00:00.456Z'), nickname: 'schema-user', passwordHash: 'scrypt$hash', lastSeenAt: at('2026-01-03T00:00:00.789Z'), online: true }
  const room = { id: 43, name: 'Schema Room', nameKey: 'schema room', topic: 'a topic', kind: 'private', directKey: null, createdBy: 41, createdAt: at('2026-01-04T00:00:00.001Z'), updatedAt: at('2026-01-05T00:00:00.002Z') }
  const direct = { id: 44, name: null, nameKey: null, topic: '', kind: 'direct', directKey: '41:41', createdBy: null, createdAt: at('2026-01-06T00:00:00Z'), updatedAt: at('2026-01-07T00:00:00Z') }
  const membership = { roomId: 43, userId: 41, role: 'owner', lastReadId: 42, joinedAt: at('2026-01-08T00:00:00.003Z') }
  const message = { id: 42, createdAt: at('2026-02-01T00:00:00.001Z'), updatedAt: at('2026-02-02T00:00:00.002Z'), source: 'src *x*', html: '<em>x</em>', userId: 41, roomId: 43, editedAt: at('2026-02-03T00:00:00.004Z'), deleted: true }
  const token = { id: randomUUID(), userId: 41, createdAt: at('2026-03-01T00:00:00Z'), expiresAt: at('2026-03-02T00:00:00Z'), revokedAt: at('2026-03-03T00:00:00Z') }
  const task = { id: randomUUID(), userId: 41, kind: 'post_message', status: 'done', messageId: 42, responseStatus: 201, responseHeaders: { location: '/api/messages/42' }, responseBody: { id: 42, nested: [1, 'two'] }, requestHash: new Uint8Array([1, 2, 255]), createdAt: at('2026-04-01T00:00:00Z'), updatedAt: at('2026-04-02T00:00:00Z') }
  const event = { seq: 9007199254740993n, createdAt: at('2026-05-01T00:00:00Z'), class: 'Message', model: { id: 42, html: '<em>x</em>' }, roomId: 43, readers: [41, 45] }
  const instance = { id: randomUUID(), startedAt: at('2026-06-01T00:00:00Z'), heartbeatAt: at('2026-06-02T00:00:00Z') }
  const connection = { id: randomUUID(), instanceId: instance.id, userId: 41, createdAt: at('2026-06-03T00:00:00Z') }
  const worker = { id: randomUUID(), poolIds: ['pool-a', 'pool-b'], startedAt: at('2026-07-01T00:00:00Z'), heartbeatAt: at('2026-07-02T00:00:00Z') }

  t.same(await prisma.user.create({ data: user }), user, 'User')
  t.same(await prisma.room.create({ data: room }), room, 'Room')
  t.same(await prisma.room.create({ data: direct }), direct, 'Room (direct)')
  t.same(await prisma.membership.create({ data: membership }), membership, 'Membership')
  t.same(await prisma.message.create({ data: message }), message, 'Message')
  t.same(await prisma.token.create({ data: token }), token, 'Token')
  t.same(await prisma.task.create({ data: task }), task, 'Task')
  t.same(await prisma.event.create({ data: event }), event, 'Event')
  t.same(await prisma.pushInstance.create({ data: instance }), instance, 'PushInstance')
  t.same(await prisma.pushConnection.create({ data: connection }), connection, 'PushConnection')
  t.same(await prisma.workerInstance.create({ data: worker }), worker, 'WorkerInstance')
  t.same(await prisma.user.findUnique({ where: { id: 41 } }), user, 'User read back')
  t.same(await prisma.task.findUnique({ where: { id: task.id } }), task, 'Task read back')

  const tested = ['User', 'Message', 'Token', 'Task', 'Event', 'PushInstance', 'PushConnection', 'WorkerInstance', 'Room', 'Membership']
  t.same(Object.values(Prisma.ModelName).sort(), tested.sort(), 'every model is covered')

  const defaults = await prisma.user.create({ data: { nickname: 'defaults', passwordHash: 'h' } })
  t.equal(defaults.online, false)
  t.ok(defaults.createdAt instanceof Date && defaults.lastSeenAt instanceof Date)
  const taskDefaults = await prisma.task.create({ data: { id: randomUUID(), userId: defaults.id, kind: 'k' } })
  t.equal(taskDefaults.status, 'queued')

  await t.rejects(prisma.user.create({ data: { nickname: 'defaults', passwordHash: 'h' } }), { code: 'P2002' }, 'nickname is unique')
  await t.rejects(prisma.message.create({ data: { source: 's', html: 'h', userId: 999 } }), 'messages need a user')
  const flack = await prisma.message.create({ data: { source: 's', html: 'h', userId: defaults.id } })
  t.match(flack, { roomId: 1, editedAt: null, deleted: false }, 'a message that names no room is in general')
  await t.rejects(prisma.room.create({ data: { name: 'GENERAL', nameKey: 'general', kind: 'public' } }), { code: 'P2002' }, 'public names are unique')
  await t.rejects(prisma.room.create({ data: { kind: 'direct', directKey: '41:41' } }), { code: 'P2002' }, 'one direct room per pair')
  await t.rejects(prisma.room.create({ data: { name: 'x', nameKey: 'x', kind: 'secret' } }), 'kind is checked')
  await prisma.user.delete({ where: { id: 41 } })
  t.equal(await prisma.message.count({ where: { userId: 41 } }), 0, 'deleting a user cascades')
})

t.test('migrations are recorded in Prisma\'s table with their sha256 and applied once', async (t) => {
  const url = await testDatabase(t)
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const { rows } = await client.query('SELECT migration_name, checksum, finished_at FROM _prisma_migrations ORDER BY migration_name')
  const files = readMigrations()
  t.same(rows.map((r) => [r.migration_name, r.checksum]), files.map((m) => [m.name, m.checksum]))
  t.ok(rows.every((r) => r.finished_at !== null))
  t.same(await migrate(url), [], 'nothing pending on a migrated database')

  await client.query('UPDATE _prisma_migrations SET checksum = $1', ['0'.repeat(64)])
  await t.rejects(migrate(url), /was edited after it was applied/, 'an edited migration is refused')
})
