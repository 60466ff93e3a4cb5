import type { ClientConfig, Message, MessagePage, Room, SearchResult, User } from './types'

// A REST failure, with the server's `{error}` message.
export class ApiError extends Error {
  constructor (readonly status: number, message: string) { super(message) }
}

export interface ApiOptions {
  token: () => string | null
  // Any 401 on a Bearer request: the token expired or was revoked.
  onUnauthorized: () => void
}

interface RequestOptions {
  method?: string
  body?: unknown
  headers?: Record<string, string>
  auth?: 'bearer' | 'none'
}

// The REST API as the page uses it; every route is on the page's own origin.
export class Api {
  constructor (private readonly options: ApiOptions) {}

  private async request (path: string, { method = 'GET', body, headers = {}, auth = 'bearer' }: RequestOptions = {}): Promise<Response> {
    const token = this.options.token()
    const sent: Record<string, string> = { accept: 'application/json', ...headers }
    if (auth === 'bearer' && token !== null && sent.authorization === undefined) sent.authorization = `Bearer ${token}`
    if (body !== undefined) sent['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(path, { method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' })
    } catch {
      throw new ApiError(0, 'The server cannot be reached. Check your connection.')
    }
    if (res.ok) return res
    const message = await res.json().then((b: { error?: string }) => b.error ?? res.statusText, () => res.statusText)
    if (res.status === 401 && sent.authorization?.startsWith('Bearer ') === true) this.options.onUnauthorized()
    throw new ApiError(res.status, message)
  }

  private async json<T> (path: string, options?: RequestOptions): Promise<T> {
    return (await this.request(path, options)).json() as Promise<T>
  }

  clientConfig (): Promise<ClientConfig> { return this.json('/api/client-config', { auth: 'none' }) }

  register (nickname: string, password: string): Promise<User> {
    return this.json('/api/users', { method: 'POST', body: { nickname, password }, auth: 'none' })
  }

  async signIn (nickname: string, password: string): Promise<string> {
    const basic = btoa(String.fromCharCode(...new TextEncoder().encode(`${nickname}:${password}`)))
    const { token } = await this.json<{ token: string }>('/api/tokens', { method: 'POST', headers: { authorization: `Basic ${basic}` } })
    return token
  }

  async signOut (): Promise<void> { await this.request('/api/tokens', { method: 'DELETE' }) }

  user (id: number): Promise<User> { return this.json(`/api/users/${id}`) }

  async users (): Promise<User[]> { return (await this.json<{ users: User[] }>('/api/users')).users }

  async rooms (): Promise<Room[]> { return (await this.json<{ rooms: Room[] }>('/api/rooms')).rooms }

  room (id: number): Promise<Room> { return this.json(`/api/rooms/${id}`) }

  createRoom (name: string, topic: string, isPrivate: boolean): Promise<Room> {
    return this.json('/api/rooms', { method: 'POST', body: { name, topic, private: isPrivate } })
  }

  async members (roomId: number): Promise<User[]> { return (await this.json<{ users: User[] }>(`/api/rooms/${roomId}/members`)).users }

  async updateRoom (roomId: number, change: { name: string, topic: string }): Promise<void> { await this.request(`/api/rooms/${roomId}`, { method: 'PUT', body: change }) }

  async addMember (roomId: number, userId: number): Promise<void> { await this.request(`/api/rooms/${roomId}/members/${userId}`, { method: 'PUT' }) }

  async removeMember (roomId: number, userId: number): Promise<void> { await this.request(`/api/rooms/${roomId}/members/${userId}`, { method: 'DELETE' }) }

  direct (userId: number): Promise<Room> { return this.json(`/api/users/${userId}/direct`, { method: 'POST' }) }

  // One page of a room's history: the newest, or just before / after a message id.
  page (roomId: number, cursor: { before?: number, after?: number } = {}, limit = 50): Promise<MessagePage> {
    const query = new URLSearchParams({ limit: String(limit) })
    if (cursor.before !== undefined) query.set('before', String(cursor.before))
    if (cursor.after !== undefined) query.set('after', String(cursor.after))
    return this.json(`/api/rooms/${roomId}/messages?${query}`)
  }

  async markRead (roomId: number, messageId: number): Promise<void> {
    await this.request(`/api/rooms/${roomId}/read`, { method: 'PUT', body: { message_id: messageId } })
  }

  async search (q: string): Promise<SearchResult[]> {
    return (await this.json<{ results: SearchResult[] }>(`/api/search?${new URLSearchParams({ q, limit: '20' })}`)).results
  }

  message (id: number): Promise<Message> { return this.json(`/api/messages/${id}`) }

  // Posts through the worker and waits (up to 10 s) for the stored message; `key` makes a repeat the same post.
  async postMessage (roomId: number, source: string, key: string): Promise<Message | null> {
    const res = await this.request(`/api/rooms/${roomId}/messages`, { method: 'POST', body: { source }, headers: { prefer: 'wait=10', 'idempotency-key': key } })
    return this.finished(res)
  }

  // Edits through the worker; the new version also arrives over the socket.
  async editMessage (id: number, source: string): Promise<void> {
    const res = await this.request(`/api/messages/${id}`, { method: 'PUT', body: { source }, headers: { prefer: 'wait=10' } })
    await this.finished(res)
  }

  async deleteMessage (id: number): Promise<void> {
    const res = await this.request(`/api/messages/${id}`, { method: 'DELETE', headers: { prefer: 'wait=10' } })
    await this.finished(res)
  }

  // Follows a 202's task until it ends; its final response carries the message, if any.
  private async finished (res: Response): Promise<Message | null> {
    for (let tries = 0; res.status === 202 && tries < 3; tries++) {
      const location = res.headers.get('location')
      if (location === null) return null
      res = await this.request(location, { headers: { prefer: 'wait=10' } })
    }
    if (res.status === 202 || res.status === 204) return null
    const body = await res.json().catch(() => null) as Message | null
    return body !== null && typeof body.id === 'number' && typeof body.html === 'string' ? body : null
  }

  async requestsPerSecond (): Promise<number> {
    return (await this.json<{ requests_per_second: number }>('/stats', { auth: 'none' })).requests_per_second
  }
}
