// The Flack web client: sign in, then rooms fed by REST and the push socket.
import { Api, ApiError } from './api'
import type { Chat } from './chat'
import { tokenUserId } from './dom'
import { Editor } from './editor'
import { NO_LONGER_MEMBER, errorText } from './errors'
import { MessagesView } from './messages-view'
import { initPanels } from './panels'
import { PushSocket } from './push'
import { Rooms } from './rooms'
import { Search } from './search'
import { initSignIn, showSignIn } from './signin'
import { ChatState, GENERAL_ROOM, typingText } from './state'
import { hideBanner, showBanner, showConnection, startStats, stopStats } from './status'
import { Sync } from './sync'
import type { ClientConfig, ServerFrame } from './types'
import { ui } from './ui'

const TOKEN_KEY = 'flack.token'
const ROOM_KEY = 'flack.room'
const TYPING_REFRESH_MS = 1000

interface Session { token: string, userId: number }

let session: Session | null = null
let chat: Chat | null = null
let push: PushSocket | null = null
let typingTimer: number | undefined

const api = new Api({ token: () => session?.token ?? null, onUnauthorized: () => endSession('Your session has ended. Please sign in again.') })
const view = new MessagesView(() => chat)
const editor = new Editor(() => chat, view)
const rooms = new Rooms(() => chat)
new Search(() => chat)

// ---- Session ---------------------------------------------------------------

// The page's settings; while the server cannot be reached, the form says so and it tries again.
async function loadConfig (): Promise<ClientConfig> {
  for (let wait = 1000; ; wait = Math.min(wait * 2, 15000)) {
    try {
      return await api.clientConfig()
    } catch (err) {
      showSignIn(errorText(err))
      ui.signinButton.disabled = true
      await new Promise((resolve) => setTimeout(resolve, wait))
    }
  }
}

async function boot (): Promise<void> {
  const config = await loadConfig()
  ui.signinButton.disabled = false
  ui.signinError.textContent = ''
  initSignIn(api, config, (token) => signedIn(config, token))
  const token = localStorage.getItem(TOKEN_KEY)
  const userId = token === null ? null : tokenUserId(token)
  if (token === null || userId === null) {
    showSignIn()
    return
  }
  session = { token, userId }
  await startChat(config).catch(startFailed)
}

async function signedIn (config: ClientConfig, token: string): Promise<void> {
  const userId = tokenUserId(token)
  if (userId === null) throw new Error('The server sent an unreadable token.')
  localStorage.setItem(TOKEN_KEY, token)
  session = { token, userId }
  await startChat(config).catch(startFailed)
}

// The chat could not start: before it showed, back to the form (the stored token stays,
// so a reload tries again); once shown, a banner.
function startFailed (err: unknown): void {
  if (session === null || (err instanceof ApiError && err.status === 401)) return
  if (!ui.chat.hidden) {
    report(err)
    return
  }
  session = null
  showSignIn(errorText(err))
}

async function startChat (config: ClientConfig): Promise<void> {
  const current = session
  if (current === null) return
  // Checks the token (a revoked one lands back on the form) and marks us online.
  const me = await api.user(current.userId)
  if (session !== current) return
  const state = new ChatState(me.id)
  state.applyUser(me)
  const sync = new Sync(state, api, {
    users: () => {
      rooms.renderPeople()
      rooms.render()
      view.render()
    },
    rooms: () => rooms.render(),
    // The room on screen is no longer ours to read: back to general, saying why.
    removed: (roomId) => {
      if (chat?.roomId !== roomId) return
      openRoom(GENERAL_ROOM).catch(report)
      report(new Error(NO_LONGER_MEMBER))
    },
    messages: (roomId, change, message) => {
      view.changed(roomId, change, message)
      if (chat?.roomId === roomId) markReadIfSeen()
    },
    typing: (roomId) => { if (chat?.roomId === roomId) showTyping() },
    error: report,
  })
  const stored = Number(localStorage.getItem(ROOM_KEY))
  chat = {
    api,
    config,
    state,
    sync,
    push: () => push,
    roomId: Number.isSafeInteger(stored) && stored > 0 ? stored : GENERAL_ROOM,
    openRoom,
    roomsChanged: () => rooms.render(),
    report,
  }
  ui.me.textContent = me.nickname
  ui.signin.hidden = true
  ui.chat.hidden = false
  hideBanner()
  rooms.renderPeople()
  editor.reset()
  ui.postInput.focus()
  startStats(api)
  push?.stop()
  let loaded = false
  // One REST load, once the socket is open so nothing falls in between (docs/API.md);
  // if the socket cannot open, load anyway and again when it does.
  const load = (): void => {
    loaded = true
    const target = chat
    sync.load(target?.roomId ?? null).then(async () => {
      if (chat !== target || target === null) return
      if (!state.rooms.has(target.roomId)) target.roomId = GENERAL_ROOM
      await openRoom(target.roomId)
    }).catch(report)
  }
  push = new PushSocket({
    url: pushUrl(config),
    onOpen: (resumed) => { if (!resumed) load() },
    onFrame,
    onState: (connection, retry) => {
      showConnection(connection, retry)
      if (connection === 'waiting' && !loaded) load()
    },
  })
  push.start(current.token)
}

// Where the push socket is: a configured URL or path, else this host on the push port.
function pushUrl (config: ClientConfig): string {
  if (config.push_url !== null) {
    const url = new URL(config.push_url, location.href)
    if (url.protocol === 'http:') url.protocol = 'ws:'
    if (url.protocol === 'https:') url.protocol = 'wss:'
    return url.href
  }
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.hostname}:${config.push_port}/ws`
}

// Back to the form: on sign out, or when any request finds the token expired or revoked.
function endSession (message = ''): void {
  if (session === null) return
  // Signing in again starts from the same nickname.
  ui.nickname.value = chat?.state.users.get(session.userId)?.nickname ?? ui.nickname.value
  session = null
  localStorage.removeItem(TOKEN_KEY)
  push?.stop()
  push = null
  chat?.sync.stop()
  chat = null
  stopStats()
  window.clearInterval(typingTimer)
  typingTimer = undefined
  view.clear()
  editor.reset()
  ui.users.replaceChildren()
  ui.roomList.replaceChildren()
  ui.directList.replaceChildren()
  ui.otherList.replaceChildren()
  ui.searchResults.hidden = true
  document.title = 'Flack'
  showSignIn(message)
}

ui.signout.addEventListener('click', () => {
  ui.signout.disabled = true
  // Close the socket first so nothing holds us online once the token is revoked.
  push?.stop()
  api.signOut().catch(() => {}).finally(() => {
    ui.signout.disabled = false
    endSession()
  })
})

function onFrame (frame: ServerFrame): void {
  const current = chat
  if (current === null) return
  if (frame.type === 'reset') {
    current.sync.load(current.roomId).catch(report)
  } else if (frame.type === 'error') {
    // e.g. ping_user refused: a REST call tells whether the token is still good.
    if (session !== null) api.user(session.userId).catch(report)
  } else {
    current.sync.onFrame(frame)
  }
}

// ---- Rooms -------------------------------------------------------------------

async function openRoom (roomId: number, aroundMessageId?: number): Promise<void> {
  const current = chat
  if (current === null) return
  if (roomId !== current.roomId) editor.closeEditor()
  current.roomId = roomId
  localStorage.setItem(ROOM_KEY, String(roomId))
  rooms.render()
  showTyping()
  if (aroundMessageId !== undefined) {
    await current.sync.loadAround(roomId, aroundMessageId)
    if (chat !== current || current.roomId !== roomId) return
    view.show(roomId, aroundMessageId)
    return
  }
  const history = current.state.history(roomId)
  if (history === undefined || history.hasNewer) await current.sync.loadNewest(roomId)
  if (chat !== current || current.roomId !== roomId) return
  view.show(roomId)
  view.fill()
  markReadIfSeen()
  ui.postInput.focus()
}

// Messages count as read when the newest is on screen in a visible tab.
function markReadIfSeen (): void {
  if (chat !== null && view.atBottom && document.visibilityState === 'visible') chat.sync.markRead(chat.roomId)
}
document.addEventListener('visibilitychange', markReadIfSeen)

function showTyping (): void {
  if (chat === null) return
  const names = chat.state.typers(chat.roomId, Date.now())
  ui.typing.textContent = typingText(names)
  window.clearInterval(typingTimer)
  typingTimer = names.length === 0 ? undefined : window.setInterval(showTyping, TYPING_REFRESH_MS)
}

initPanels(rooms, (roomId) => { if (chat !== null) openRoom(roomId).catch(report) })

function report (err: unknown): void {
  if (session !== null) showBanner(err)
}

boot().catch((err: unknown) => showSignIn(errorText(err)))
