// Rooms: the sidebar with unread counts, the room header, creating, editing (the owner), joining,
// leaving, members (added by members of a private room, removed by its owner), and direct
// messages started from the people list.
import type { Chat } from './chat'
import { h } from './dom'
import { errorText } from './errors'
import { GENERAL_ROOM, titleText } from './state'
import type { Room } from './types'
import { ui } from './ui'

// The private room's padlock is drawn by CSS (class lock).
const ICONS: Record<Room['kind'], string> = { public: '#', private: '', direct: '@' }

// The name typed into a room's form, or null (saying why beside the form) when it is blank.
function typedName (input: HTMLInputElement, error: HTMLElement): string | null {
  const name = input.value.trim()
  if (name === '') error.textContent = 'Give the room a name.'
  return name === '' ? null : name
}

export class Rooms {
  constructor (private readonly chat: () => Chat | null) {
    for (const list of [ui.roomList, ui.directList, ui.otherList]) {
      list.addEventListener('click', (event) => {
        const button = (event.target as Element).closest<HTMLButtonElement>('button[data-room]')
        if (button === null) return
        this.openPanel(false)
        this.chat()?.openRoom(Number(button.dataset.room)).catch(this.report)
      })
    }
    ui.users.addEventListener('click', (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>('button[data-direct]')
      if (button !== null) this.direct(Number(button.dataset.direct)).catch(this.report)
    })
    ui.newRoom.addEventListener('click', () => this.createDialog())
    ui.roomForm.addEventListener('submit', (event) => {
      event.preventDefault()
      this.create().catch((err: unknown) => { ui.roomError.textContent = errorText(err) })
    })
    ui.editRoom.addEventListener('click', () => this.editDialog())
    ui.editForm.addEventListener('submit', (event) => {
      event.preventDefault()
      this.edit().catch((err: unknown) => { ui.editError.textContent = errorText(err) })
    })
    ui.joinRoom.addEventListener('click', () => this.join().catch(this.report))
    ui.leaveRoom.addEventListener('click', () => this.leave().catch(this.report))
    ui.membersRoom.addEventListener('click', () => this.membersDialog().catch(this.report))
    ui.membersList.addEventListener('click', (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>('button[data-remove]')
      if (button !== null) this.remove(Number(button.dataset.remove)).catch((err: unknown) => { ui.membersError.textContent = errorText(err) })
    })
    ui.addPeople.addEventListener('click', () => this.addDialog().catch(this.report))
    ui.addForm.addEventListener('submit', (event) => {
      event.preventDefault()
      this.add().catch((err: unknown) => { ui.addError.textContent = errorText(err) })
    })
    ui.roomsToggle.addEventListener('click', () => this.openPanel(!ui.sidebar.classList.contains('open')))
  }

  private readonly report = (err: unknown): void => this.chat()?.report(err)

  // On a phone the sidebar is a panel over the messages.
  openPanel (open: boolean): void {
    ui.sidebar.classList.toggle('open', open)
    ui.roomsToggle.setAttribute('aria-expanded', String(open))
    if (open) ui.sidebar.querySelector<HTMLButtonElement>('[aria-current="page"]')?.focus()
  }

  render (): void {
    const chat = this.chat()
    if (chat === null) return
    const { state } = chat
    const { rooms, direct, other } = state.sidebar()
    const item = (room: Room): HTMLLIElement => {
      const unread = state.unread(room.id)
      const current = room.id === chat.roomId
      return h('li', {},
        h('button', {
          type: 'button',
          class: `room${current ? ' current' : ''}${unread > 0 ? ' has-unread' : ''}`,
          'data-room': String(room.id),
          'aria-current': current ? 'page' : undefined,
        },
        h('span', { class: room.kind === 'private' ? 'room-icon lock' : 'room-icon', 'aria-hidden': 'true' }, ICONS[room.kind]),
        h('span', { class: 'room-name' }, state.displayName(room)),
        room.kind === 'private' ? h('span', { class: 'visually-hidden' }, ' (private)') : null,
        unread > 0 ? h('span', { class: 'badge', 'data-unread': String(unread) }, String(unread), h('span', { class: 'visually-hidden' }, ' unread')) : null))
    }
    ui.roomList.replaceChildren(...rooms.map(item))
    ui.directList.replaceChildren(...direct.map(item))
    ui.otherList.replaceChildren(...other.map(item))
    ui.otherHeading.hidden = other.length === 0
    ui.otherList.hidden = other.length === 0

    const room = state.rooms.get(chat.roomId)
    const total = state.totalUnread()
    document.title = titleText(total, room === undefined ? null : state.displayName(room))
    ui.roomsUnread.hidden = total === 0
    ui.roomsUnread.textContent = String(total)
    if (room === undefined) return
    ui.roomName.textContent = `${room.kind === 'direct' ? '@' : '#'} ${state.displayName(room)}`
    ui.roomTopic.textContent = room.kind === 'direct' ? 'Direct message' : room.topic
    ui.messages.setAttribute('aria-label', `Messages in ${state.displayName(room)}`)
    ui.joinRoom.hidden = !(room.kind === 'public' && room.member !== true)
    ui.editRoom.hidden = !(room.role === 'owner' && room.kind !== 'direct')
    ui.membersRoom.hidden = !(room.member === true && room.kind !== 'direct' && room.id !== GENERAL_ROOM)
    ui.addPeople.hidden = !(room.kind === 'private' && room.member === true)
    ui.leaveRoom.hidden = !(room.member === true && room.kind !== 'direct' && room.id !== GENERAL_ROOM)
  }

  renderPeople (): void {
    const chat = this.chat()
    if (chat === null) return
    const list = [...chat.state.users.values()].sort((a, b) =>
      Number(b.online) - Number(a.online) || a.nickname.localeCompare(b.nickname))
    ui.users.replaceChildren(...list.map((user) => h('li', {
      class: user.online ? 'user online' : 'user offline',
      'data-user-id': String(user.id),
      'data-online': String(user.online),
    },
    h('span', { class: 'presence', 'aria-hidden': 'true' }),
    h('span', { class: 'nickname' }, user.nickname),
    user.id === chat.state.me ? h('span', { class: 'you' }, 'you') : null,
    h('span', { class: 'visually-hidden' }, user.online ? ' (online)' : ' (offline)'),
    h('button', { type: 'button', class: 'link dm', 'data-direct': String(user.id), 'aria-label': `Message ${user.nickname} directly` }, 'Message'))))
    const online = list.filter((u) => u.online).length
    ui.peopleCount.textContent = String(online)
    ui.peopleToggle.title = `${online} online of ${list.length}`
  }

  private async direct (userId: number): Promise<void> {
    const chat = this.chat()
    if (chat === null) return
    const room = await chat.api.direct(userId)
    chat.state.applyRoom(room)
    chat.state.directPeers.set(room.id, userId)
    ui.people.classList.remove('open')
    await chat.openRoom(room.id)
  }

  private createDialog (): void {
    ui.roomForm.reset()
    ui.roomError.textContent = ''
    ui.roomDialog.showModal()
    ui.roomNameInput.focus()
  }

  private async create (): Promise<void> {
    const chat = this.chat()
    if (chat === null) return
    const name = typedName(ui.roomNameInput, ui.roomError)
    if (name === null) return
    const room = await chat.api.createRoom(name, ui.roomTopicInput.value.trim(), ui.roomPrivate.checked)
    chat.state.applyRoom(room)
    ui.roomDialog.close()
    await chat.openRoom(room.id)
  }

  // The owner's rename and topic; the others see the change through the Room event.
  private editDialog (): void {
    const chat = this.chat()
    const room = chat?.state.rooms.get(chat.roomId)
    if (room === undefined) return
    ui.editNameInput.value = room.name ?? ''
    ui.editTopicInput.value = room.topic
    ui.editError.textContent = ''
    ui.editDialog.showModal()
    ui.editNameInput.focus()
  }

  private async edit (): Promise<void> {
    const chat = this.chat()
    if (chat === null) return
    const roomId = chat.roomId
    const name = typedName(ui.editNameInput, ui.editError)
    if (name === null) return
    await chat.api.updateRoom(roomId, { name, topic: ui.editTopicInput.value.trim() })
    chat.state.applyRoom(await chat.api.room(roomId))
    chat.roomsChanged()
    ui.editDialog.close()
    ui.postInput.focus()
  }

  private async join (): Promise<void> {
    const chat = this.chat()
    if (chat === null) return
    const roomId = chat.roomId
    await chat.api.addMember(roomId, chat.state.me)
    chat.state.applyRoom(await chat.api.room(roomId))
    chat.roomsChanged()
    ui.postInput.focus()
  }

  private async leave (): Promise<void> {
    const chat = this.chat()
    if (chat === null) return
    const room = chat.state.rooms.get(chat.roomId)
    if (room === undefined) return
    await chat.api.removeMember(room.id, chat.state.me)
    if (room.kind === 'public') chat.state.applyRoom(await chat.api.room(room.id))
    else chat.state.forgetRoom(room.id)
    await chat.openRoom(GENERAL_ROOM)
  }

  private async membersDialog (): Promise<void> {
    ui.membersError.textContent = ''
    await this.renderMembers()
    ui.membersDialog.showModal()
  }

  // The room's members by nickname; its owner gets a Remove button beside everyone else.
  private async renderMembers (): Promise<void> {
    const chat = this.chat()
    if (chat === null) return
    const owner = chat.state.rooms.get(chat.roomId)?.role === 'owner'
    const members = await chat.api.members(chat.roomId)
    ui.membersList.replaceChildren(...members.map((user) => h('li', { 'data-user-id': String(user.id) },
      h('span', { class: 'nickname' }, user.nickname),
      user.id === chat.state.me ? h('span', { class: 'you' }, 'you') : null,
      owner && user.id !== chat.state.me
        ? h('button', { type: 'button', class: 'link danger', 'data-remove': String(user.id), 'aria-label': `Remove ${user.nickname} from the room` }, 'Remove')
        : null)))
  }

  private async remove (userId: number): Promise<void> {
    const chat = this.chat()
    if (chat === null || !Number.isSafeInteger(userId) || userId <= 0) return
    await chat.api.removeMember(chat.roomId, userId)
    chat.sync.refetchRoom(chat.roomId)
    await this.renderMembers()
  }

  private async addDialog (): Promise<void> {
    const chat = this.chat()
    if (chat === null) return
    const members = new Set((await chat.api.members(chat.roomId)).map((u) => u.id))
    const candidates = [...chat.state.users.values()].filter((u) => !members.has(u.id)).sort((a, b) => a.nickname.localeCompare(b.nickname))
    ui.addUser.replaceChildren(...candidates.map((u) => h('option', { value: String(u.id) }, u.nickname)))
    ui.addError.textContent = candidates.length === 0 ? 'Everyone is in this room already.' : ''
    ui.addDialog.showModal()
    ui.addUser.focus()
  }

  private async add (): Promise<void> {
    const chat = this.chat()
    const userId = Number(ui.addUser.value)
    if (chat === null || !Number.isSafeInteger(userId) || userId <= 0) return
    await chat.api.addMember(chat.roomId, userId)
    ui.addDialog.close()
    chat.sync.refetchRoom(chat.roomId)
    ui.postInput.focus()
  }
}
