// Search: results over every room we may read; one opens its message in its room, in context.
import type { Chat } from './chat'
import { h, timeElement, trustedHtml } from './dom'
import { ui } from './ui'

export class Search {
  constructor (private readonly chat: () => Chat | null) {
    ui.searchForm.addEventListener('submit', (event) => {
      event.preventDefault()
      this.run().catch((err: unknown) => this.chat()?.report(err))
    })
    ui.searchClose.addEventListener('click', () => this.close())
    ui.searchResults.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.close()
    })
    ui.searchList.addEventListener('click', (event) => {
      const button = (event.target as Element).closest<HTMLButtonElement>('button[data-message]')
      if (button === null) return
      this.close(false)
      this.chat()?.openRoom(Number(button.dataset.room), Number(button.dataset.message)).catch((err: unknown) => this.chat()?.report(err))
    })
  }

  close (refocus = true): void {
    ui.searchResults.hidden = true
    ui.searchList.replaceChildren()
    if (refocus) ui.searchInput.focus()
  }

  private async run (): Promise<void> {
    const chat = this.chat()
    const q = ui.searchInput.value.trim()
    if (chat === null || q === '') return
    const results = await chat.api.search(q)
    ui.searchList.replaceChildren(...results.map(({ message, snippet }) => {
      const room = chat.state.rooms.get(message.room_id)
      const roomName = room === undefined ? 'a room' : chat.state.displayName(room)
      const text = h('span', { class: 'snippet' })
      // Escaped text with <mark> only (docs/API.md), passed through the same filter as messages.
      text.append(trustedHtml(snippet))
      return h('li', {},
        h('button', { type: 'button', class: 'result', 'data-room': String(message.room_id), 'data-message': String(message.id) },
          h('span', { class: 'result-meta' },
            h('span', { class: 'author' }, chat.state.nickname(message.user_id)),
            h('span', { class: 'result-room' }, ` in ${room?.kind === 'direct' ? '@' : '#'}${roomName} `),
            timeElement(message.created_at)),
          text))
    }))
    if (results.length === 0) ui.searchList.append(h('li', { class: 'hint' }, `Nothing found for “${q}”.`))
    ui.searchResults.hidden = false
    ui.searchList.querySelector<HTMLButtonElement>('button')?.focus()
  }
}
