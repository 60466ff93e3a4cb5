// The sign-in form's checks, with the server's own rules from /api/client-config. No DOM.

export const PASSWORD_MIN = 8

export function signInProblem (nickname: string, password: string, nicknamePattern: string): string {
  if (nickname === '') return 'Enter a nickname.'
  if (!new RegExp(nicknamePattern, 'u').test(nickname)) return 'A nickname is 1 to 32 visible characters, with no spaces.'
  if (password.length < PASSWORD_MIN) return `Passwords have at least ${PASSWORD_MIN} characters.`
  return ''
}

// Said the same whether the nickname exists or not, as the API does.
export const WRONG_CREDENTIALS = 'Wrong nickname or password. New here? That nickname may be taken: pick another.'

export function lengthProblem (source: string, max: number): string {
  return source.length > max ? `Too long: ${source.length.toLocaleString('en')} of at most ${max.toLocaleString('en')} characters.` : ''
}
