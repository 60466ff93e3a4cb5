// The Flack web client: sign in, then a live view of the chat fed by REST and the push socket.
import { Api, ApiError } from './api'
import { PushSocket, type ConnectionState } from './push'
import { byId, h, timeElement, tokenUserId, trustedHtml } from './dom'
import type { ClientConfig, Message, ServerFrame, User } from './types'

const TOKEN_KEY = 'flack.token'
const STATS_EVERY_MS = 5000
const NEAR_BOTTOM_PX = 48
const GENERAL_ROOM = 1

const ui = {
  signin: byId('signin'),
  signinForm: byId<HTMLFormElement>('signin-form'),
  nickname: byId<HTMLInputElement>('nickname'),
  password: byId<HTMLInputElement>('password'),
  signinError: byId('signin-error'),
  signinButton: byId<HTMLButtonElement>('signin-button'),
  chat: byId('chat'),
  connection: byId('connection'),
  stats: byId('stats'),
  me: byId('me'),
  signout: byId<HTMLButtonElement>('signout'),
  peopleToggle: byId<HTMLButtonElement>('people-toggle'),
  peopleCount: byId('people-count'),
  people: byId('people'),
  users: byId<HTMLUListElement>('users'),
  banner: byId('banner'),
  messages: byId<HTMLOListElement>('messages'),
  postForm: byId<HTMLFormElement>('post-form'),
  postInput: byId<HTMLTextAreaElement>('post-input'),
  postButton: byId<HTMLButtonElement>('post-button'),
}

interface Session { token: string, userId: number }

let session: Session | null = null
const users = new Map<number, User>()
const messages = new Map<number, Message>()
const messageItems = new Map<number, HTMLLIElement>()
// Newest updated_at seen per class: REST catch-ups ask only for what came after.
const newest = { users: 0, messages: 0 }
// While a REST catch-up runs, events wait here and are applied after it, in order.
let catchUps = 0
let heldFrames: ServerFrame[] = []
let statsTimer: number | undefined
let editingId: number | null = null

const api = new Api({ token: () => session?.token ?? null, onUnauthorized: () => endSession('Your session has ended. Please sign in again.') })
let push: PushSocket | null = null

// ---- Session ---------------------------------------------------------------

async function boot (): Promise<void> {
  const token = localStorage.getItem(TOKEN_KEY)
  const userId = token === null ? null : tokenUserId(token)
  if (token === null || userId === null) {
    showSignIn()
    return
  }
  session = { token, userId }
  await startChat().catch(startFailed)
}

// The chat could not start: before it showed, back to the form (the stored token stays,
// so a reload tries again); once shown, a banner.
function startFailed (err: unknown): void {
  if (session === null || (err instanceof ApiError && err.status === 401)) return
  if (!ui.chat.hidden) {
    showBanner(errorText(err))
    return
  }
  session = null
  showSignIn(errorText(err))
}

function showSignIn (message = ''): void {
  ui.chat.hidden = true
  ui.signin.hidden = false
  ui.signinError.textContent = message
  ui.signinButton.disabled = false
  ui.password.value = ''
  ;(ui.nickname.value === '' ? ui.nickname : ui.password).focus()
}

// An unknown nickname registers; a known one signs in; a wrong password says so.
async function signInOrRegister (nickname: string, password: string): Promise<string> {
  try {
    return await api.signIn(nickname, password)
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err
  }
  try {
    await api.register(nickname, password)
  } catch (err) {
    if (err instanceof ApiError && err.status === 400 && /taken/i.test(err.message)) {
      throw new Error(`Wrong password for “${nickname}”. If that isn't you, pick another nickname.`)
    }
    throw err
  }
  return api.signIn(nickname, password)
}

ui.signinForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const nickname = ui.nickname.value.trim()
  const password = ui.password.value
  const problem = nickname === ''
    ? 'Enter a nickname.'
    : /\s/.test(nickname) || nickname.length > 32
      ? 'A nickname is 1 to 32 characters with no spaces.'
      : password.length < 8 ? 'Passwords have at least 8 characters.' : ''
  if (problem !== '') {
    ui.signinError.textContent = problem
    return
  }
  ui.signinError.textContent = ''
  ui.signinButton.disabled = true
  ui.signinButton.textContent = 'Signing in…'
  signInOrRegister(nickname, password).then(async (token) => {
    const userId = tokenUserId(token)
    if (userId === null) throw new Error('The server sent an unreadable token.')
    localStorage.setItem(TOKEN_KEY, token)
    session = { token, userId }
    ui.password.value = ''
    await startChat().catch(startFailed)
  }).catch((err: unknown) => {
    ui.signinError.textContent = errorText(err)
    ui.password.select()
  }).finally(() => {
    ui.signinButton.disabled = false
    ui.signinButton.textContent = 'Join the chat'
  })
})

async function startChat (): Promise<void> {
  const current = session
  if (current === null) return
  // Checks the token (a revoked one lands back on the form) and marks us online.
  const me = await api.user(current.userId)
  if (session !== current) return
  users.set(me.id, me)
  ui.me.textContent = me.nickname
  ui.signin.hidden = true
  ui.chat.hidden = false
  hideBanner()
  renderUsers()
  ui.postInput.focus()
  startStats()
  const config = await api.clientConfig()
  if (session !== current) return
  push?.stop()
  push = new PushSocket({ url: pushUrl(config), onOpen, onFrame, onState: showConnection })
  push.start(current.token)
  await catchUp(true)
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
  ui.nickname.value = users.get(session.userId)?.nickname ?? ui.nickname.value
  session = null
  localStorage.removeItem(TOKEN_KEY)
  push?.stop()
  push = null
  window.clearInterval(statsTimer)
  statsTimer = undefined
  users.clear()
  messages.clear()
  messageItems.clear()
  newest.users = 0
  newest.messages = 0
  heldFrames = []
  editingId = null
  ui.messages.replaceChildren()
  ui.users.replaceChildren()
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

// ---- Sync: REST snapshot plus socket events --------------------------------

function onOpen (resumed: boolean): void {
  // Without `since` the socket only streams from now on: fetch what changed meanwhile.
  if (!resumed) catchUp(false).catch(reportError)
}

function onFrame (frame: ServerFrame): void {
  if (frame.type === 'reset') {
    catchUp(true).catch(reportError)
  } else if (frame.type === 'error') {
    // e.g. ping_user refused: a REST call tells whether the token is still good.
    if (session !== null) api.user(session.userId).catch(reportError)
  } else if (frame.type === 'updated_model') {
    if (catchUps > 0) heldFrames.push(frame)
    else applyFrame(frame)
  }
}

function applyFrame (frame: ServerFrame): void {
  if (frame.type !== 'updated_model') return
  if (frame.class === 'User') upsertUser(frame.model)
  // This page shows the room general; a signed-in socket also streams the user's other rooms.
  else if (frame.class === 'Message' && frame.model.room_id === GENERAL_ROOM) upsertMessage(frame.model)
}

// Reloads through REST: everything (`full`, which also drops what is gone) or what changed.
async function catchUp (full: boolean): Promise<void> {
  const current = session
  catchUps++
  try {
    // Strictly-after with whole seconds: ask from a second early; upserts are idempotent.
    const since = (t: number): number | undefined => (full || t === 0 ? undefined : Math.max(0, t - 1))
    const [userList, messageList] = await Promise.all([api.users(since(newest.users)), api.messages(since(newest.messages))])
    if (session !== current) return
    if (full) {
      const keepUsers = new Set(userList.map((u) => u.id))
      for (const id of users.keys()) if (!keepUsers.has(id) && id !== session?.userId) users.delete(id)
      const keepMessages = new Set(messageList.map((m) => m.id))
      for (const id of [...messages.keys()]) if (!keepMessages.has(id)) removeMessage(id)
    }
    const stick = isNearBottom()
    for (const user of userList) upsertUser(user, false)
    renderUsers()
    for (const message of messageList) upsertMessage(message, false)
    if (stick || full) scrollToBottom()
  } finally {
    catchUps--
    if (catchUps === 0) {
      const frames = heldFrames
      heldFrames = []
      frames.forEach(applyFrame)
    }
  }
}

// ---- Users -------------------------------------------------------------------

function upsertUser (user: User, render = true): void {
  const known = users.get(user.id)
  newest.users = Math.max(newest.users, user.updated_at)
  if (known !== undefined && known.updated_at > user.updated_at) return
  users.set(user.id, user)
  // Messages may have shown this author before the user arrived, or under an old nickname.
  if (known === undefined || known.nickname !== user.nickname) {
    for (const el of ui.messages.querySelectorAll<HTMLElement>(`.author[data-user-id="${user.id}"]`)) el.textContent = user.nickname
    if (user.id === session?.userId) ui.me.textContent = user.nickname
  }
  if (render) renderUsers()
}

function renderUsers (): void {
  const list = [...users.values()].sort((a, b) =>
    Number(b.online) - Number(a.online) || a.nickname.localeCompare(b.nickname))
  ui.users.replaceChildren(...list.map((user) => h('li', {
    class: user.online ? 'user online' : 'user offline',
    'data-user-id': String(user.id),
    'data-online': String(user.online),
  },
  h('span', { class: 'presence', 'aria-hidden': 'true' }),
  h('span', { class: 'nickname' }, user.nickname),
  user.id === session?.userId ? h('span', { class: 'you' }, 'you') : null,
  h('span', { class: 'visually-hidden' }, user.online ? ' (online)' : ' (offline)'))))
  const online = list.filter((u) => u.online).length
  ui.peopleCount.textContent = String(online)
  ui.peopleToggle.title = `${online} online of ${list.length}`
}

// On a phone the list is a panel: the button, Escape or a click elsewhere closes it.
function showPeople (open: boolean): void {
  ui.people.classList.toggle('open', open)
  ui.peopleToggle.setAttribute('aria-expanded', String(open))
}
ui.peopleToggle.addEventListener('click', () => showPeople(!ui.people.classList.contains('open')))
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && ui.people.classList.contains('open')) {
    showPeople(false)
    ui.peopleToggle.focus()
  }
})
document.addEventListener('click', (event) => {
  const target = event.target as Node
  if (ui.people.classList.contains('open') && !ui.people.contains(target) && !ui.peopleToggle.contains(target)) showPeople(false)
})

// ---- Messages ----------------------------------------------------------------

const byTime = (a: Message, b: Message): number => a.created_at - b.created_at || a.id - b.id

function upsertMessage (message: Message, follow = true): void {
  const known = messages.get(message.id)
  newest.messages = Math.max(newest.messages, message.updated_at)
  if (known !== undefined && known.updated_at > message.updated_at) return
  const stick = follow && isNearBottom()
  messages.set(message.id, message)
  const item = renderMessage(message)
  const old = messageItems.get(message.id)
  if (old !== undefined) {
    if (editingId === message.id) return // shown when the editor closes
    old.replaceWith(item)
  } else {
    // Almost always the newest: walk back from the end to its place.
    let after: HTMLLIElement | null = null
    for (let el = ui.messages.lastElementChild as HTMLLIElement | null; el !== null; el = el.previousElementSibling as HTMLLIElement | null) {
      const other = messages.get(Number(el.dataset.id))
      if (other !== undefined && byTime(other, message) < 0) {
        after = el
        break
      }
    }
    if (after === null) ui.messages.prepend(item)
    else after.after(item)
  }
  messageItems.set(message.id, item)
  if (stick || (old === undefined && follow && message.user_id === session?.userId)) scrollToBottom()
}

function removeMessage (id: number): void {
  messages.delete(id)
  messageItems.get(id)?.remove()
  messageItems.delete(id)
}

function renderMessage (message: Message): HTMLLIElement {
  const mine = message.user_id === session?.userId
  const author = users.get(message.user_id)?.nickname ?? `user ${message.user_id}`
  const body = h('div', { class: 'body' })
  body.append(trustedHtml(message.html))
  return h('li', { class: mine ? 'message mine' : 'message', 'data-id': String(message.id), 'data-user-id': String(message.user_id) },
    h('div', { class: 'meta' },
      h('span', { class: 'author', 'data-user-id': String(message.user_id) }, author),
      timeElement(message.created_at),
      mine ? h('button', { type: 'button', class: 'edit link', 'data-edit': String(message.id), 'aria-label': 'Edit this message' }, 'Edit') : null),
    body)
}

function isNearBottom (): boolean {
  const el = ui.messages
  return el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX
}

function scrollToBottom (): void {
  ui.messages.scrollTop = ui.messages.scrollHeight
}

// ---- Posting -------------------------------------------------------------------

// Through the socket with an acknowledgement when it is open, otherwise (or when it
// fails to acknowledge) through REST, which also reports errors with their status.
async function postMessage (source: string): Promise<void> {
  if (push?.isOpen === true) {
    try {
      await push.post(source)
      return
    } catch {
      // fall through to REST
    }
  }
  const stored = await api.postMessage(source)
  if (stored !== null) upsertMessage(stored)
}

ui.postForm.addEventListener('submit', (event) => {
  event.preventDefault()
  const source = ui.postInput.value
  if (source.trim() === '' || ui.postInput.readOnly) return
  ui.postInput.readOnly = true
  ui.postButton.disabled = true
  postMessage(source).then(() => {
    ui.postInput.value = ''
    hideBanner()
  }, reportError).finally(() => {
    ui.postInput.readOnly = false
    ui.postButton.disabled = false
    autosize(ui.postInput)
    ui.postInput.focus()
  })
})

ui.postInput.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault()
    ui.postForm.requestSubmit()
  } else if (event.key === 'ArrowUp' && ui.postInput.value === '') {
    const last = [...messages.values()].filter((m) => m.user_id === session?.userId).sort(byTime).at(-1)
    if (last !== undefined) {
      event.preventDefault()
      openEditor(last.id)
    }
  }
})
ui.postInput.addEventListener('input', () => autosize(ui.postInput))

function autosize (area: HTMLTextAreaElement): void {
  area.style.height = 'auto'
  area.style.height = `${Math.min(area.scrollHeight, 200)}px`
}

// ---- Editing -------------------------------------------------------------------

ui.messages.addEventListener('click', (event) => {
  const button = (event.target as Element).closest<HTMLButtonElement>('button[data-edit]')
  if (button !== null) openEditor(Number(button.dataset.edit))
})

function openEditor (id: number): void {
  const message = messages.get(id)
  const item = messageItems.get(id)
  if (message === undefined || item === undefined) return
  if (editingId !== null) closeEditor()
  editingId = id
  const area = h('textarea', { class: 'edit-input', 'aria-label': 'Edit message', rows: '2', maxlength: '4000' })
  area.value = message.source
  const error = h('p', { class: 'error', role: 'alert' })
  const form = h('form', { class: 'editor' }, area,
    h('div', { class: 'editor-actions' },
      h('span', { class: 'hint' }, 'Enter saves · Esc cancels'),
      h('button', { type: 'button', class: 'secondary', 'data-cancel': '' }, 'Cancel'),
      h('button', { type: 'submit' }, 'Save')),
    error)
  item.classList.add('editing')
  item.querySelector('.body')?.replaceWith(form)
  form.querySelector('[data-cancel]')?.addEventListener('click', closeEditor)
  area.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault()
      closeEditor()
    } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault()
      form.requestSubmit()
    }
  })
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const source = area.value
    if (source.trim() === '' || area.readOnly) return
    if (source === message.source) {
      closeEditor()
      return
    }
    area.readOnly = true
    api.editMessage(id, source)
      .then(() => api.message(id))
      .then((saved) => {
        closeEditor()
        upsertMessage(saved, false)
      })
      .catch((err: unknown) => {
        area.readOnly = false
        error.textContent = errorText(err)
      })
  })
  autosize(area)
  area.focus()
  area.setSelectionRange(area.value.length, area.value.length)
}

function closeEditor (): void {
  const id = editingId
  if (id === null) return
  editingId = null
  const message = messages.get(id)
  const item = messageItems.get(id)
  if (message === undefined || item === undefined) return
  const fresh = renderMessage(message)
  item.replaceWith(fresh)
  messageItems.set(id, fresh)
  ui.postInput.focus()
}

// ---- Status: connection, stats, errors -----------------------------------------

function showConnection (state: ConnectionState, retryInSeconds?: number): void {
  ui.connection.dataset.state = state
  ui.connection.textContent = state === 'open'
    ? 'Live'
    : state === 'connecting' ? 'Connecting…' : `Offline · retrying in ${retryInSeconds ?? 1}s`
}

function startStats (): void {
  window.clearInterval(statsTimer)
  const refresh = (): void => {
    if (document.hidden) return
    api.requestsPerSecond().then((rate) => {
      ui.stats.textContent = `${rate.toFixed(rate < 10 ? 1 : 0)} req/s`
    }, () => {
      ui.stats.textContent = '– req/s'
    })
  }
  refresh()
  statsTimer = window.setInterval(refresh, STATS_EVERY_MS)
}

function showBanner (text: string): void {
  ui.banner.textContent = text
  ui.banner.hidden = false
}

function hideBanner (): void {
  ui.banner.hidden = true
}

function errorText (err: unknown): string {
  if (err instanceof ApiError && err.status === 429) return 'Too many failed sign-ins. Wait a few minutes and try again.'
  if (err instanceof ApiError && err.status >= 500) return 'The server had a problem. Try again in a moment.'
  return err instanceof Error ? err.message : String(err)
}

function reportError (err: unknown): void {
  // A 401 already sent us back to the sign-in form.
  if (err instanceof ApiError && err.status === 401) return
  if (session !== null) showBanner(errorText(err))
}

boot().catch(reportError)
