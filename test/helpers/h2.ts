/** A real HTTP/2 client (node:http2) that records responses, 1xx responses and pushes. */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2'
import { once } from 'node:events'

export interface PushRecord {
  id: number
  path: string
  requestHeaders: IncomingHttpHeaders
  headers: IncomingHttpHeaders
  body: Buffer
  /** 'end' when END_STREAM arrived, else how the stream closed (rstCode). */
  ended: boolean
  rstCode: number
}

export interface Exchange {
  status: number
  headers: IncomingHttpHeaders
  informational: IncomingHttpHeaders[]
  body: Buffer
  /** The response's trailers (an own-property copy), `{}` without any. */
  trailers: Record<string, unknown>
  pushes: PushRecord[]
  /** Event order as seen by the client: 'push:<path>', 'response', 'end'. */
  events: string[]
}

/** What a request sends after its headers: a body, and trailers after it. */
export interface Upload {
  body: string
  trailers?: Record<string, string>
}

export interface ClientOptions {
  enablePush?: boolean
}

export class H2Client {
  readonly session: ClientHttp2Session
  readonly pushes: PushRecord[] = []
  readonly events: string[] = []
  readonly #pending = new Set<Promise<void>>()

  constructor(url: string, options: ClientOptions = {}) {
    this.session = http2.connect(url, {
      rejectUnauthorized: false,
      settings: { enablePush: options.enablePush ?? true },
    })
    this.session.on('error', () => {})
    this.session.on('stream', (stream, requestHeaders) => this.#onPush(stream, requestHeaders))
  }

  #onPush(stream: ClientHttp2Stream, requestHeaders: IncomingHttpHeaders): void {
    const record: PushRecord = {
      id: stream.id ?? 0,
      path: String(requestHeaders[':path']),
      requestHeaders,
      headers: {},
      body: Buffer.alloc(0),
      ended: false,
      rstCode: 0,
    }
    this.pushes.push(record)
    this.events.push(`push:${record.path}`)
    const chunks: Buffer[] = []
    stream.on('push', (headers) => (record.headers = headers))
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    stream.on('error', () => {})
    const done = new Promise<void>((resolve) => {
      stream.on('end', () => (record.ended = true))
      stream.on('close', () => {
        record.body = Buffer.concat(chunks)
        record.rstCode = stream.rstCode ?? 0
        resolve()
      })
    })
    this.#pending.add(done)
    void done.then(() => this.#pending.delete(done))
  }

  /** Opens a request and returns its stream with a recorder (for held-open responses); `upload` is sent as its body. */
  open(path: string, headers: Record<string, string> = {}, upload?: Upload) {
    const stream = this.session.request({ ':path': path, ...headers }, upload?.trailers ? { waitForTrailers: true } : {})
    if (upload) {
      const trailers = upload.trailers
      if (trailers) stream.on('wantTrailers', () => stream.sendTrailers(trailers))
      stream.end(upload.body)
    }
    const informational: IncomingHttpHeaders[] = []
    const chunks: Buffer[] = []
    let ended = false
    let trailers: Record<string, unknown> = {}
    stream.on('headers', (h) => informational.push(h))
    stream.on('trailers', (t) => (trailers = Object.fromEntries(Object.entries(t))))
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => (ended = true))
    stream.on('error', () => {})
    const response = once(stream, 'response').then(([h]) => {
      this.events.push('response')
      return h as IncomingHttpHeaders
    })
    const closed = once(stream, 'close').then(() => undefined)
    return {
      stream,
      response,
      closed,
      informational,
      get ended() {
        return ended
      },
      get trailers() {
        return trailers
      },
      body: () => Buffer.concat(chunks),
    }
  }

  /** GET (or another method) `path`; resolves when the response and every push seen meanwhile closed. */
  async request(path: string, headers: Record<string, string> = {}, timeoutMs = 10_000, upload?: Upload): Promise<Exchange> {
    const firstPush = this.pushes.length
    const firstEvent = this.events.length
    const r = this.open(path, headers, upload)
    const timeout = new Promise<never>((_, reject) => {
      const t = setTimeout(() => reject(new Error(`${path}: no complete response in ${timeoutMs} ms`)), timeoutMs)
      void r.closed.then(() => clearTimeout(t))
    })
    const responseHeaders = await Promise.race([r.response, timeout])
    await Promise.race([r.closed, timeout])
    await Promise.all([...this.#pending])
    if (!r.ended) throw new Error(`${path}: stream closed without END_STREAM (rstCode ${r.stream.rstCode})`)
    this.events.push('end')
    return {
      status: Number(responseHeaders[':status']),
      headers: responseHeaders,
      informational: r.informational,
      body: r.body(),
      trailers: r.trailers,
      pushes: this.pushes.slice(firstPush),
      events: this.events.slice(firstEvent),
    }
  }

  /** GOAWAY and close; streams the server still holds open are reset after `graceMs`. */
  async close(graceMs = 300): Promise<void> {
    if (this.session.destroyed) return
    const closed = once(this.session, 'close').then(() => undefined)
    this.session.close()
    const timer = setTimeout(() => this.session.destroy(), graceMs)
    await closed
    clearTimeout(timer)
  }
}

/** One request on a fresh connection. */
export async function h2get(url: string, path: string, options: ClientOptions & { headers?: Record<string, string> } = {}): Promise<Exchange> {
  const client = new H2Client(url, options)
  try {
    return await client.request(path, options.headers)
  } finally {
    await client.close()
  }
}
