// Writing: the composer (length counter, typing notices), editing in place, deleting.
import type { Chat } from './chat'
import { h } from './dom'
import { errorText } from './errors'
import type { MessagesView } from './messages-view'
import { lengthProblem } from './rules'
import { hideBanner } from './status'
import { ui } from './ui'

// Shown from this close to the limit, so a long paste is never cut or refused silently.
const COUNTER_FROM = 0.9
const TYPING_EVERY_MS = 2500
const MAX_AREA_PX = 200

export function autosize (area: HTMLTextAreaElement): void {
  area.style.height = 'auto'
  area.style.height = `${Math.min(area.scrollHeight, MAX_AREA_PX)}px`
}

export class Editor {
  private lastTyping = 0
  // The message being sent, or that failed to send, with its Idempotency-Key.
  private unsent: { roomId: number, source: string, key: string } | null = null

  constructor (private readonly chat: () => Chat | null, private readonly view: MessagesView) {
    ui.postForm.addEventListener('submit', (event) => {
      event.preventDefault()
      this.send()
    })
    ui.postInput.addEventListener('keydown', (event) => this.composerKey(event))
    ui.postInput.addEventListener('input', () => {
      autosize(ui.postInput)
      this.count()
      this.typing()
    })
    ui.messages.addEventListener('click', (event) => {
      const target = event.target as Element
      const edit = target.closest<HTMLButtonElement>('button[data-edit]')
      if (edit !== null) this.openEditor(Number(edit.dataset.edit))
      const remove = target.closest<HTMLButtonElement>('button[data-delete]')
      if (remove !== null) this.confirmDelete(Number(remove.dataset.delete), remove)
    })
  }

  reset (): void {
    ui.postInput.value = ''
    this.count()
    this.view.editingId = null
  }

  // Counts against the server's limit (from /api/client-config); over it, sending is refused.
  count (): boolean {
    const max = this.chat()?.config.message_max_length ?? Infinity
    const length = ui.postInput.value.length
    const problem = lengthProblem(ui.postInput.value, max)
    ui.postCount.hidden = length < max * COUNTER_FROM
    ui.postCount.textContent = problem !== '' ? problem : `${length.toLocaleString('en')} / ${max.toLocaleString('en')}`
    ui.postCount.classList.toggle('over', problem !== '')
    ui.postInput.setAttribute('aria-invalid', String(problem !== ''))
    ui.postButton.disabled = problem !== '' || ui.postInput.readOnly
    return problem === ''
  }

  private typing (): void {
    const chat = this.chat()
    if (chat === null || ui.postInput.value.trim() === '' || Date.now() - this.lastTyping < TYPING_EVERY_MS) return
    this.lastTyping = Date.now()
    chat.push()?.typing(chat.roomId)
  }

  private send (): void {
    const chat = this.chat()
    const source = ui.postInput.value
    if (chat === null || source.trim() === '' || ui.postInput.readOnly || !this.count()) return
    const roomId = chat.roomId
    // One key per message composed: the socket's try, the REST fallback and a resend after an error are one post.
    if (this.unsent?.roomId !== roomId || this.unsent.source !== source) this.unsent = { roomId, source, key: crypto.randomUUID() }
    const { key } = this.unsent
    ui.postInput.readOnly = true
    ui.postButton.disabled = true
    this.post(chat, roomId, source, key).then(() => {
      this.unsent = null
      ui.postInput.value = ''
      this.lastTyping = 0
      // Whatever went wrong before, posting works now.
      hideBanner()
    }, chat.report).finally(() => {
      ui.postInput.readOnly = false
      this.count()
      autosize(ui.postInput)
      ui.postInput.focus()
    })
  }

  // Through the socket with an acknowledgement when it is open, otherwise (or when it
  // fails to acknowledge) through REST, which also reports errors with their status.
  private async post (chat: Chat, roomId: number, source: string, key: string): Promise<void> {
    const push = chat.push()
    if (push?.isOpen === true) {
      try {
        await push.post(source, roomId, key)
        return
      } catch {
        // fall through to REST
      }
    }
    const stored = await chat.api.postMessage(roomId, source, key)
    if (stored !== null && chat.state.applyMessage(stored) !== 'ignored') this.view.changed(roomId, 'added', stored)
  }

  private composerKey (event: KeyboardEvent): void {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault()
      ui.postForm.requestSubmit()
    } else if (event.key === 'ArrowUp' && ui.postInput.value === '') {
      const chat = this.chat()
      const last = chat?.state.lastOwnMessage(chat.roomId)
      if (last !== undefined) {
        event.preventDefault()
        this.openEditor(last.id)
      }
    }
  }

  openEditor (id: number): void {
    const chat = this.chat()
    const message = chat?.state.history(chat.roomId)?.messages.get(id)
    const item = this.view.element(id)
    if (chat === null || message === undefined || item === undefined) return
    if (this.view.editingId !== null) this.closeEditor()
    this.view.editingId = id
    const area = h('textarea', { class: 'edit-input', 'aria-label': 'Edit message', rows: '2' })
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
    form.querySelector('[data-cancel]')?.addEventListener('click', () => this.closeEditor())
    area.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault()
        this.closeEditor()
      } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        form.requestSubmit()
      }
    })
    area.addEventListener('input', () => autosize(area))
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      const source = area.value
      if (source.trim() === '' || area.readOnly) return
      if (source === message.source) return this.closeEditor()
      const problem = lengthProblem(source, chat.config.message_max_length)
      if (problem !== '') {
        error.textContent = problem
        return
      }
      area.readOnly = true
      chat.api.editMessage(id, source)
        .then(() => chat.api.message(id))
        .then((saved) => {
          chat.state.applyMessage(saved)
          this.closeEditor()
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

  closeEditor (): void {
    if (this.view.editingId === null) return
    const id = this.view.editingId
    this.view.editingId = null
    this.view.forget(id)
    this.view.render()
    ui.postInput.focus()
  }

  // Asks first, in a dialog; the tombstone then arrives for everyone, us included.
  private confirmDelete (id: number, button: HTMLButtonElement): void {
    const chat = this.chat()
    if (chat === null) return
    const dialog = ui.confirmDialog
    ui.confirmText.textContent = 'Delete this message for everyone? This cannot be undone.'
    const done = (): void => {
      ui.confirmForm.removeEventListener('submit', confirm)
      dialog.removeEventListener('close', done)
      if (button.isConnected) button.focus()
      else ui.postInput.focus()
    }
    const confirm = (event: SubmitEvent): void => {
      event.preventDefault()
      dialog.close()
      chat.api.deleteMessage(id)
        .then(() => chat.api.message(id))
        .then((tombstone) => {
          const change = chat.state.applyMessage(tombstone)
          if (change !== 'ignored') this.view.changed(tombstone.room_id, change, tombstone)
        })
        .catch(chat.report)
    }
    ui.confirmForm.addEventListener('submit', confirm)
    dialog.addEventListener('close', done)
    dialog.showModal()
  }
}
