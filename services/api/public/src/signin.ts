// The sign-in form: an unknown nickname registers, a known one signs in.
import { ApiError, type Api } from './api'
import { errorText } from './errors'
import { signInProblem, WRONG_CREDENTIALS } from './rules'
import type { ClientConfig } from './types'
import { ui } from './ui'

export function showSignIn (message = ''): void {
  ui.chat.hidden = true
  ui.signin.hidden = false
  ui.signinError.textContent = message
  ui.signinButton.disabled = false
  ui.password.value = ''
  ;(ui.nickname.value === '' ? ui.nickname : ui.password).focus()
}

async function signInOrRegister (api: Api, nickname: string, password: string): Promise<string> {
  try {
    return await api.signIn(nickname, password)
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err
  }
  try {
    await api.register(nickname, password)
  } catch (err) {
    // Taken: the nickname exists and the password was wrong; say no more than the API does.
    if (err instanceof ApiError && err.status === 400 && /taken/i.test(err.message)) throw new Error(WRONG_CREDENTIALS)
    throw err
  }
  return api.signIn(nickname, password)
}

export function initSignIn (api: Api, config: ClientConfig, signedIn: (token: string) => Promise<void>): void {
  ui.signinForm.addEventListener('submit', (event) => {
    event.preventDefault()
    const nickname = ui.nickname.value.trim()
    const password = ui.password.value
    const problem = signInProblem(nickname, password, config.nickname_pattern)
    ui.signinError.textContent = problem
    if (problem !== '') return
    ui.signinButton.disabled = true
    ui.signinButton.textContent = 'Signing in…'
    signInOrRegister(api, nickname, password).then(async (token) => {
      ui.password.value = ''
      await signedIn(token)
    }).catch((err: unknown) => {
      ui.signinError.textContent = errorText(err)
      ui.password.select()
    }).finally(() => {
      ui.signinButton.disabled = false
      ui.signinButton.textContent = 'Join the chat'
    })
  })
}
