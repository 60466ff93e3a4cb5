// The shown room's messages: day separators, grouping, scroll-back, "new messages", read-out.
import type { Chat } from './chat'
import { dayLabel, h, timeElement, trustedHtml } from './dom'
import { layout, type Entry, type MessageChange } from './state'
import type { Message } from './types'
import { ui } from './ui'

const NEAR_BOTTOM_PX = 48
// Older pages load while this close to the top, so scrolling rarely has to wait.
const NEAR_TOP_PX = 400
const ANNOUNCED_KEPT = 5

interface Item { el: HTMLLIElement, version: string }

export class MessagesView {
  private items = new Map<string, Item>()
  private roomId: number | null = null
  // Following the newest message: new ones, a banner or a taller composer keep it in view.
  private stuck = true
  // The message being edited keeps its element until the editor closes.
  editingId: number | null = null

  constructor (private readonly chat: () => Chat | null) {
    ui.messages.addEventListener('scroll', () => this.scrolled())
    new ResizeObserver(() => { if (this.stuck) this.toBottom() }).observe(ui.messages)
    ui.newMessages.addEventListener('click', () => { this.jumpToNewest().catch((err: unknown) => this.chat()?.report(err)) })
  }

  clear (): void {
    this.items.clear()
    this.roomId = null
    this.editingId = null
    ui.messages.replaceChildren()
    ui.announcer.replaceChildren()
    ui.newMessages.hidden = true
  }

  // Shows a room: at its newest message, or with `focusId` highlighted in the middle.
  show (roomId: number, focusId?: number): void {
    if (roomId !== this.roomId) {
      this.clear()
      this.roomId = roomId
    }
    this.render()
    if (focusId === undefined) {
      this.stuck = true
      ui.newMessages.hidden = true
      this.toBottom()
      return
    }
    this.stuck = false
    ui.newMessages.textContent = 'Jump to newest ↓'
    ui.newMessages.hidden = this.chat()?.state.history(roomId)?.hasNewer !== true
    const item = this.items.get(`m-${focusId}`)?.el
    if (item === undefined) return
    for (const old of ui.messages.querySelectorAll('.highlight')) old.classList.remove('highlight')
    item.classList.add('highlight')
    item.scrollIntoView({ block: 'center' })
    item.focus({ preventScroll: true })
  }

  // A change of the shown room's messages; `message` for one pushed change.
  changed (roomId: number, change?: MessageChange, message?: Message): void {
    const chat = this.chat()
    if (roomId !== this.roomId || chat === null) return
    this.render()
    if (change !== 'added' || message === undefined) {
      if (this.stuck) this.toBottom()
      return
    }
    const mine = message.user_id === chat.state.me
    if (this.stuck || mine) {
      this.toBottom()
    } else {
      ui.newMessages.textContent = 'New messages ↓'
      ui.newMessages.hidden = false
    }
    if (!mine) this.announce(`${chat.state.nickname(message.user_id)}: ${trustedHtml(message.html).textContent ?? ''}`)
  }

  // Drawn afresh at the next render (an editor closed over it).
  forget (id: number): void { this.items.delete(`m-${id}`) }

  element (id: number): HTMLLIElement | undefined { return this.items.get(`m-${id}`)?.el }

  get atBottom (): boolean { return this.stuck }

  // Redraws the list, reusing the element of every entry that did not change.
  render (): void {
    const chat = this.chat()
    if (chat === null || this.roomId === null) return
    const entries = layout(chat.state.sortedMessages(this.roomId))
    const next = new Map<string, Item>()
    const anchor = this.stuck ? null : this.anchor()
    for (const entry of entries) {
      const version = this.version(chat, entry)
      const known = this.items.get(entry.key)
      const keep = known !== undefined && (known.version === version || (entry.type === 'message' && entry.message.id === this.editingId))
      next.set(entry.key, keep ? known : { el: this.renderEntry(chat, entry), version })
    }
    // Moves only what moved, so focus and an open editor stay put.
    const kept = new Set([...next.values()].map((item) => item.el))
    for (const child of [...ui.messages.children]) if (!kept.has(child as HTMLLIElement)) child.remove()
    let cursor = ui.messages.firstElementChild
    for (const { el } of next.values()) {
      if (el === cursor) {
        cursor = cursor.nextElementSibling
      } else {
        ui.messages.insertBefore(el, cursor)
      }
    }
    while (cursor !== null) {
      const after = cursor.nextElementSibling
      cursor.remove()
      cursor = after
    }
    this.items = next
    // Older messages arrived above, or one above changed: what was on screen stays where it was.
    const anchored = anchor === null ? undefined : next.get(anchor.key)?.el
    if (anchor !== null && anchored !== undefined) ui.messages.scrollTop += anchored.getBoundingClientRect().top - anchor.top
    const history = chat.state.history(this.roomId)
    ui.messages.dataset.hasOlder = String(history?.hasOlder ?? false)
  }

  // The first message at least partly on screen, and where it is.
  private anchor (): { key: string, top: number } | null {
    const top = ui.messages.getBoundingClientRect().top
    for (const el of ui.messages.children) {
      const box = el.getBoundingClientRect()
      if (box.bottom > top && el.classList.contains('message')) return { key: (el as HTMLElement).dataset.key ?? '', top: box.top }
    }
    return null
  }

  private version (chat: Chat, entry: Entry): string {
    if (entry.type === 'day') return entry.key
    const m = entry.message
    return `${m.updated_at}|${m.html.length}|${entry.grouped}|${chat.state.nickname(m.user_id)}|${chat.state.mayDelete(m)}`
  }

  private renderEntry (chat: Chat, entry: Entry): HTMLLIElement {
    if (entry.type === 'day') return h('li', { class: 'day', 'data-key': entry.key }, h('span', {}, dayLabel(entry.time)))
    const message = entry.message
    const mine = message.user_id === chat.state.me
    const author = chat.state.nickname(message.user_id)
    const body = h('div', { class: 'body' })
    body.append(trustedHtml(message.html))
    const classes = ['message', mine ? 'mine' : '', entry.grouped ? 'grouped' : ''].filter(Boolean).join(' ')
    return h('li', { class: classes, 'data-id': String(message.id), 'data-key': entry.key, 'data-user-id': String(message.user_id), tabindex: '-1' },
      entry.grouped
        ? h('span', { class: 'visually-hidden' }, `${author}: `)
        : h('div', { class: 'meta' },
          h('span', { class: 'author', 'data-user-id': String(message.user_id) }, author),
          timeElement(message.created_at)),
      body,
      message.edited_at === null ? null : h('span', { class: 'edited', title: `Edited ${new Date(message.edited_at * 1000).toLocaleString()}` }, '(edited)'),
      h('div', { class: 'actions' },
        mine ? h('button', { type: 'button', class: 'link', 'data-edit': String(message.id), 'aria-label': 'Edit this message' }, 'Edit') : null,
        chat.state.mayDelete(message) ? h('button', { type: 'button', class: 'link danger', 'data-delete': String(message.id), 'aria-label': 'Delete this message' }, 'Delete') : null))
  }

  private scrolled (): void {
    const chat = this.chat()
    if (chat === null || this.roomId === null) return
    const el = ui.messages
    this.stuck = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX
    const history = chat.state.history(this.roomId)
    if (this.stuck) {
      if (history?.hasNewer === true) {
        this.stuck = false
        chat.sync.loadNewer(this.roomId).catch(chat.report)
      } else {
        ui.newMessages.hidden = true
        chat.sync.markRead(this.roomId)
      }
    }
    if (el.scrollTop < NEAR_TOP_PX && history?.hasOlder === true) chat.sync.loadOlder(this.roomId).catch(chat.report)
  }

  // Fills the screen when the first page is too short to scroll.
  fill (): void {
    const chat = this.chat()
    if (chat === null || this.roomId === null) return
    if (ui.messages.scrollHeight <= ui.messages.clientHeight + NEAR_TOP_PX && chat.state.history(this.roomId)?.hasOlder === true) {
      chat.sync.loadOlder(this.roomId).catch(chat.report)
    }
  }

  async jumpToNewest (): Promise<void> {
    const chat = this.chat()
    if (chat === null || this.roomId === null) return
    if (chat.state.history(this.roomId)?.hasNewer === true) await chat.sync.loadNewest(this.roomId)
    this.stuck = true
    ui.newMessages.hidden = true
    this.toBottom()
    chat.sync.markRead(this.roomId)
  }

  toBottom (): void {
    ui.messages.scrollTop = ui.messages.scrollHeight
  }

  private announce (text: string): void {
    ui.announcer.append(h('p', {}, text.length > 300 ? `${text.slice(0, 300)}…` : text))
    while (ui.announcer.childElementCount > ANNOUNCED_KEPT) ui.announcer.firstElementChild?.remove()
  }
}
