/**
 * One Pusher shape for every transport, like Go's `http.Pusher` (`getPusher(res)`, in
 * get-pusher.ts, answers one when a response can push): the types, the push request's
 * headers, and the helpers the one implementation (adapted-pusher.ts) uses.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { Readable, type Writable } from 'node:stream'
import { H2PushError } from '../errors.js'

/** What became of a pushed response once its stream closed. */
export interface PushOutcome {
  /** `sent`: the whole body went out with END_STREAM; `cancelled`: the stream was reset or the connection went away. */
  readonly status: 'sent' | 'cancelled'
  /** Body bytes handed to the stream. */
  readonly bytes: number
  /** Why it was cancelled, when it was. */
  readonly reason?: string
}

export type PushBody = string | Buffer | Uint8Array | Readable

/**
 * Internal (the manifest's pushes): sends the response's HEADERS now and its body once
 * `after` settles; `written` settles once the body is handed to the transport (or the
 * stream closed). Not part of the public API.
 */
export const respondInTurn = Symbol('express-h2-push.respond-in-turn')

/** A promised stream (its PUSH_PROMISE is on the wire), waiting for its response. */
export interface PushStream {
  /** The promised stream id (even: 2, 4, 6, ...). */
  readonly id: number
  /** The promised `:path`. */
  readonly path: string
  /**
   * Sends the pushed response: status, headers, then the body with END_STREAM.
   * Resolves when the stream closes; never rejects (a reset resolves as `cancelled`).
   */
  respond(status: number, headers: OutgoingHttpHeaders, body?: PushBody): Promise<PushOutcome>
  /** Resets the promised stream (RST_STREAM CANCEL) without a response. */
  cancel(): void
  /** @internal */
  [respondInTurn]?(
    status: number,
    headers: OutgoingHttpHeaders,
    body: PushBody | undefined,
    after: Promise<void> | undefined,
  ): { outcome: Promise<PushOutcome>; written: Promise<void> }
}

export interface PushOptions {
  /**
   * Request headers of the promised request. Default: `accept`, `accept-encoding`,
   * `accept-language` and `user-agent` copied from the parent request.
   */
  requestHeaders?: IncomingHttpHeaders
  /**
   * A pushed stream that makes no progress for this long (a client that stopped reading,
   * a zero flow-control window, or a push still waiting for one of the streams the client
   * allows at once) is reset with CANCEL and its body released. Default 30 000 ms.
   */
  timeout?: number
  /**
   * Keep the promised stream when its parent closes before it is answered: for a push
   * promised as the parent's response goes out, whose body is still being produced. It is
   * still reset after `timeout` without a response. Default false: an unanswered push is
   * reset when its parent closes.
   */
  keepAfterParent?: boolean
}

export const DEFAULT_PUSH_TIMEOUT = 30_000

export interface Pusher {
  /**
   * Promises `path` (an absolute path on this origin) on the current response's stream.
   * Resolves once the PUSH_PROMISE frame is queued ahead of anything the response
   * sends later; rejects with an `H2PushError` (`ERR_H2PUSH_PUSH_DISABLED`,
   * `ERR_H2PUSH_STREAM_CLOSED`, `ERR_H2PUSH_INVALID_PUSH`, `ERR_H2PUSH_PUSH_FAILED`).
   */
  push(path: string, options?: PushOptions): Promise<PushStream>
  /** Bytes the client lets us send on this connection right now (its HTTP/2 flow-control window). */
  remoteWindow(): number
  /** The HTTP/2 connection this response is on (one object per connection, for per-connection state). */
  readonly connection: object
}

const FORBIDDEN_PUSH_REQUEST_HEADERS = new Set([
  'content-length',
  'content-encoding',
  'trailer',
  'te',
  'expect',
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
])

const COPIED_REQUEST_HEADERS = ['accept', 'accept-encoding', 'accept-language', 'user-agent'] as const

/** Checks a push target and builds its request headers; throws ERR_H2PUSH_INVALID_PUSH. */
export function pushRequestHeaders(path: string, parent: IncomingHttpHeaders, options: PushOptions | undefined): IncomingHttpHeaders {
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//')) {
    throw new H2PushError(
      'ERR_H2PUSH_INVALID_PUSH',
      `push: target ${JSON.stringify(path)} is not an absolute path on this origin; use a path such as "/app.css"`,
    )
  }
  if (options?.requestHeaders) {
    const headers: IncomingHttpHeaders = {}
    for (const [name, value] of Object.entries(options.requestHeaders)) {
      const lower = name.toLowerCase()
      if (FORBIDDEN_PUSH_REQUEST_HEADERS.has(lower) || lower.startsWith(':')) {
        throw new H2PushError('ERR_H2PUSH_INVALID_PUSH', `push ${path}: request header ${JSON.stringify(name)} may not be sent in a PUSH_PROMISE; remove it`)
      }
      if (value !== undefined) (headers as Record<string, string | string[]>)[lower] = value
    }
    return headers
  }
  const headers: IncomingHttpHeaders = {}
  for (const name of COPIED_REQUEST_HEADERS) {
    const value = parent[name]
    if (value !== undefined) headers[name] = value
  }
  return headers
}

interface Unanswered {
  readonly responded: boolean
  cancel(): void
}

const unansweredByParent = new WeakMap<object, Set<Unanswered>>()

/**
 * A promised stream nobody answers must not hold the connection: once its parent
 * stream closes, an unanswered push is reset. One 'close' listener per parent, however
 * many pushes it carries; `settled` takes a push out once its own stream closed.
 */
export function cancelWhenParentCloses(parent: { once(event: 'close', listener: () => void): unknown }, push: Unanswered): { settled(): void } {
  let pending = unansweredByParent.get(parent)
  if (!pending) {
    const set = new Set<Unanswered>()
    pending = set
    unansweredByParent.set(parent, set)
    parent.once('close', () => {
      unansweredByParent.delete(parent)
      for (const unanswered of set) if (!unanswered.responded) unanswered.cancel()
    })
  }
  pending.add(push)
  const set = pending
  return { settled: () => set.delete(push) }
}

/**
 * Writes a pushed body to its stream and ends it: a Readable is piped (and destroyed
 * if the stream closes first), anything else written at once. `counted` hears the
 * body bytes handed to the stream.
 */
export function writePushBody(stream: Writable, body: PushBody | undefined, counted: (bytes: number) => void): void {
  if (body === undefined) {
    stream.end()
  } else if (body instanceof Readable) {
    body.on('data', (chunk: Buffer) => counted(chunk.length))
    body.once('error', (err) => stream.destroy(err))
    stream.once('close', () => body.destroy())
    body.pipe(stream)
  } else {
    const buf = typeof body === 'string' ? Buffer.from(body) : Buffer.isBuffer(body) ? body : Buffer.from(body)
    counted(buf.length)
    stream.end(buf)
  }
}
