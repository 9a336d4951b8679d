/**
 * Trailers end the stream.
 *
 * spdy-transport's `stream.sendHeaders()` on a message already under way wrote a HEADERS
 * frame without END_STREAM at once, and `end()` then an empty DATA frame with it. RFC 9113
 * §8.1 makes such a message malformed: the HEADERS frame of a trailer section carries
 * END_STREAM. node:http2 resets the stream (PROTOCOL_ERROR), and so does our own server
 * now (protocol-guard.ts); spdy's client sent trailers this way. Headers sent once the
 * message is under way are now held until the stream's next write or its end: at the end
 * they go out as one HEADERS frame with END_STREAM; a write after them sends them first,
 * without END_STREAM, as before. (HTTP/2 only: SPDY/3 has no trailers of this kind.)
 *
 * `res.addTrailers()` is Node's API, not spdy-transport's: its trailers are sent when the
 * response ends, whatever is written after the call, as node:http2 sends them (merged, in one
 * HEADERS frame with END_STREAM after the last DATA frame). It called `sendHeaders`, so a
 * write after it (`res.end(body)` itself) sent the trailers first, before the body and
 * without END_STREAM: every response with `addTrailers` was malformed, and clients reset it
 * (PROTOCOL_ERROR). Now they wait for the end (trailersAtEnd).
 */
import type { SpdyStream } from './internals.js'

const PENDING = Symbol('express-h2-push.pending-trailers')
/** Trailers from `res.addTrailers()`: sent at the end only. */
const AT_END = Symbol('express-h2-push.trailers-at-end')

type HeadersCallback = (err?: Error | null) => void

interface TrailerState {
  sent: boolean
  isServer: boolean
  corked: number
  corkQueue: Array<() => void>
  framer: { headersFrame(frame: { id: number; headers: Record<string, unknown>; fin: boolean }, callback: HeadersCallback): void }
}

type TrailerStream = SpdyStream & {
  _spdyState: SpdyStream['_spdyState'] & TrailerState
  [PENDING]?: Array<{ headers: Record<string, unknown>; callback: HeadersCallback | undefined }> | undefined
  [AT_END]?: Record<string, unknown> | undefined
  _maybeClose(): void
  sendHeaders(headers: Record<string, unknown>, callback?: HeadersCallback): void
}

type SendHeaders = (this: TrailerStream, headers: Record<string, unknown>, callback?: HeadersCallback) => void
type Write = (this: TrailerStream, data: unknown, encoding: unknown, callback: unknown) => void
type OnFinish = (this: TrailerStream) => void

function flush(stream: TrailerStream, fin: boolean): void {
  const pending = stream[PENDING]
  const atEnd = fin ? stream[AT_END] : undefined
  // Every write of every stream comes through here: nothing held, nothing made.
  if (pending === undefined && atEnd === undefined) return
  stream[PENDING] = undefined
  if (fin) stream[AT_END] = undefined
  const headers = Object.assign({}, ...(pending ?? []).map((entry) => entry.headers), atEnd) as Record<string, unknown>
  stream._hardCork()
  stream._spdyState.framer.headersFrame({ id: stream.id, headers, fin }, (err) => {
    stream._hardUncork()
    for (const entry of pending ?? []) entry.callback?.(err)
  })
}

/** `sendHeaders` once the message is under way: held for the next write or the end. */
export function holdTrailers(sendHeaders: SendHeaders): SendHeaders {
  return function sendHeadersHeld(this: TrailerStream, headers, callback): void {
    const http2 = (this.connection._spdyState as { protocol?: { name: string } }).protocol?.name === 'h2'
    if (!http2 || !this._spdyState.sent || this._writableState.ended) return sendHeaders.call(this, headers, callback)
    this[PENDING] ??= []
    this[PENDING].push({ headers, callback })
  }
}

/** A write after held headers sends them first. */
export function flushTrailersBeforeWrite(write: Write): Write {
  return function writeAfterTrailers(this: TrailerStream, data, encoding, callback): void {
    flush(this, false)
    write.call(this, data, encoding, callback)
  }
}

/** The end of a stream with held headers: one HEADERS frame with END_STREAM, no empty DATA frame. */
export function endWithTrailers(onFinish: OnFinish): OnFinish {
  const onFinishWithTrailers = function (this: TrailerStream): void {
    if (!this[PENDING] && !this[AT_END]) return onFinish.call(this)
    const state = this._spdyState
    if (state.corked !== 0) {
      state.corkQueue.push(() => onFinishWithTrailers.call(this))
      return
    }
    flush(this, true)
    this._maybeClose()
  }
  return onFinishWithTrailers
}

/** Whether trailers wait for `stream`'s end: its last DATA frame must not carry END_STREAM (end-with-data.ts). */
export function endsWithTrailers(stream: object): boolean {
  const held = stream as TrailerStream
  return held[AT_END] !== undefined || (held[PENDING]?.length ?? 0) > 0
}

/** A header object from `addTrailers`' argument: an object, or Node's `[name, value]` pairs (a name twice: its values in an array). */
function trailerObject(headers: Readonly<Record<string, unknown>> | ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  if (!Array.isArray(headers)) return { ...(headers as Record<string, unknown>) }
  const object: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const [name, value] of headers as ReadonlyArray<readonly [string, unknown]>) {
    const key = String(name).toLowerCase()
    const before = object[key]
    object[key] = before === undefined ? value : ([] as unknown[]).concat(before, value)
  }
  return object
}

/**
 * `res.addTrailers(headers)` on an HTTP/2 server stream: the trailers are merged with any added
 * before and sent when the stream ends, in the HEADERS frame that carries END_STREAM. On a
 * SPDY/3 stream they go as spdy sent them (`sendHeaders`).
 */
export function trailersAtEnd(stream: object, headers: Readonly<Record<string, unknown>> | ReadonlyArray<readonly [string, unknown]>): void {
  const held = stream as TrailerStream
  const http2 = (held.connection._spdyState as { protocol?: { name: string } }).protocol?.name === 'h2'
  if (!http2 || !held._spdyState.isServer) return held.sendHeaders(trailerObject(headers))
  held[AT_END] = Object.assign(held[AT_END] ?? {}, trailerObject(headers))
}
