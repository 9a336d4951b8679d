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
 */
import type { SpdyStream } from './internals.js'

const PENDING = Symbol('express-h2-push.pending-trailers')

type HeadersCallback = (err?: Error | null) => void

interface TrailerState {
  sent: boolean
  corked: number
  corkQueue: Array<() => void>
  framer: { headersFrame(frame: { id: number; headers: Record<string, unknown>; fin: boolean }, callback: HeadersCallback): void }
}

type TrailerStream = SpdyStream & {
  _spdyState: SpdyStream['_spdyState'] & TrailerState
  [PENDING]?: Array<{ headers: Record<string, unknown>; callback: HeadersCallback | undefined }> | undefined
  _maybeClose(): void
}

type SendHeaders = (this: TrailerStream, headers: Record<string, unknown>, callback?: HeadersCallback) => void
type Write = (this: TrailerStream, data: unknown, encoding: unknown, callback: unknown) => void
type OnFinish = (this: TrailerStream) => void

function flush(stream: TrailerStream, fin: boolean): void {
  const pending = stream[PENDING]
  if (!pending) return
  stream[PENDING] = undefined
  const headers = Object.assign({}, ...pending.map((entry) => entry.headers)) as Record<string, unknown>
  stream._hardCork()
  stream._spdyState.framer.headersFrame({ id: stream.id, headers, fin }, (err) => {
    stream._hardUncork()
    for (const entry of pending) entry.callback?.(err)
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
    if (!this[PENDING]) return onFinish.call(this)
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
