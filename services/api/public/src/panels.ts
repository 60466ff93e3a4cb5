// Phone panels (rooms, people) and the keys that work anywhere on the page.
import type { Rooms } from './rooms'
import { ui } from './ui'

// On a phone the people list is a panel: the button, Escape or a click elsewhere closes it.
function showPeople (open: boolean): void {
  ui.people.classList.toggle('open', open)
  ui.peopleToggle.setAttribute('aria-expanded', String(open))
}

export function initPanels (rooms: Rooms, openRoom: (roomId: number) => void): void {
  ui.peopleToggle.addEventListener('click', () => showPeople(!ui.people.classList.contains('open')))
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && ui.people.classList.contains('open')) {
      showPeople(false)
      ui.peopleToggle.focus()
    } else if (event.key === 'Escape' && ui.sidebar.classList.contains('open')) {
      rooms.openPanel(false)
      ui.roomsToggle.focus()
    } else if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
      // Alt+↑/↓: the previous or next room in the sidebar, from anywhere.
      event.preventDefault()
      const buttons = [...ui.sidebar.querySelectorAll<HTMLButtonElement>('button[data-room]')]
      const at = buttons.findIndex((b) => b.getAttribute('aria-current') === 'page')
      const next = buttons[at + (event.key === 'ArrowUp' ? -1 : 1)]
      if (next !== undefined) openRoom(Number(next.dataset.room))
    }
  })
  document.addEventListener('click', (event) => {
    const target = event.target as Node
    if (ui.people.classList.contains('open') && !ui.people.contains(target) && !ui.peopleToggle.contains(target)) showPeople(false)
    if (ui.sidebar.classList.contains('open') && !ui.sidebar.contains(target) && !ui.roomsToggle.contains(target)) rooms.openPanel(false)
  })
}
