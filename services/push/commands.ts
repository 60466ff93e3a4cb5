import type { AuthUser } from '../../plugins/auth'
import { taskUrl } from '../../lib/models'
import { ROOM_NOT_FOUND } from '../../lib/queries/access'
import { ackFrame, errorFrame, type ClientFrame, type Ref } from '../../lib/stream/frames'
import type { PushContext } from './context'
import type { SocketView } from './view'
import type { UserTie } from './user-tie'
import { POLICY_VIOLATION } from './socket-writer'

// What a client command needs of its socket.
export interface CommandSocket {
  readonly ctx: PushContext
  readonly closed: boolean
  // With auth=1, until a valid ping_user names the viewer.
  readonly awaitingAuth: boolean
  readonly view: SocketView
  readonly tie: UserTie
  write: (data: string) => void
  close: (code: number, reason: string) => void
  // A ping_user named the viewer: with auth=1, the stream starts here.
  viewed: () => void
}

// Runs one client frame: every command first checks its token, then does its job and answers its ref.
export async function runCommand (socket: CommandSocket, frame: ClientFrame): Promise<void> {
  const found = await socket.ctx.userForToken(frame.token)
  if (socket.closed) return
  if (found === null) {
    // A token that no longer holds takes back the view it gave: public rooms only from now on.
    if (frame.type === 'ping_user') socket.view.revoke()
    reply(socket, frame.ref, 'Invalid or expired token')
    if (socket.awaitingAuth) socket.close(POLICY_VIOLATION, 'auth=1: the first ping_user must carry a valid token')
    return
  }
  if (frame.type === 'ping_user') {
    // The view lasts as long as this token: till its expiry, a revocation or a failed ping_user.
    socket.view.grant(found.user.id, found.tokenId, found.expiresAt)
    socket.viewed()
    return pingUser(socket, found.user, frame.ref)
  }
  if (frame.type === 'typing') return typing(socket, found.user, frame.roomId, frame.ref)
  return postMessage(socket, found.user, frame.source, frame.roomId, frame.key, frame.ref)
}

// Ties the socket to the user (online while it, or another of theirs, is open) and refreshes presence.
async function pingUser (socket: CommandSocket, user: AuthUser, ref: Ref | undefined): Promise<void> {
  await socket.tie.tie(user.id)
  await socket.ctx.markSeen(user)
  if (ref !== undefined) socket.write(ackFrame(ref))
}

async function typing (socket: CommandSocket, user: AuthUser, roomId: number, ref: Ref | undefined): Promise<void> {
  if (!await socket.ctx.typing.send(user.id, roomId)) return reply(socket, ref, ROOM_NOT_FOUND)
  if (ref !== undefined) socket.write(ackFrame(ref))
}

async function postMessage (socket: CommandSocket, user: AuthUser, source: unknown, roomId: number, key: string | undefined, ref: Ref | undefined): Promise<void> {
  const posting = socket.ctx.posting
  const problem = posting.invalidSource(source)
  if (problem !== null) return reply(socket, ref, problem)
  await socket.ctx.markSeen(user)
  const posted = await posting.post(user.id, source as string, roomId, key)
  if ('error' in posted) return reply(socket, ref, posted.error)
  if (ref !== undefined) socket.write(ackFrame(ref, { task: taskUrl(posted.taskId) }))
}

function reply (socket: CommandSocket, ref: Ref | undefined, error: string): void {
  socket.write(errorFrame(error, ref))
}
