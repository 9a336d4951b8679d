/**
 * END_STREAM on a response's last DATA frame.
 *
 * spdy-transport ends every stream with a frame of its own: the body's DATA frames go out as
 * the stream's writes are done, and when its Writable side finishes, one more DATA frame,
 * empty, carries END_STREAM. A response written with one `res.end(body)` (`res.send`,
 * `res.json`: most of Express) so costs three frames where nghttp2 and Go send two, and the
 * third goes through the whole frame path again (the framer, the flow-control wrappers, the
 * scheduler, one more chunk for the TLS socket).
 *
 * Here, on HTTP/2 server streams, a write that is the stream's last (its Writable is ending
 * and nothing else is buffered behind it) sends its last DATA frame with END_STREAM, as
 * spdy-transport's own `_send` would send it otherwise (the same window wait, the same
 * abort check); the stream's `_onFinish` then sends no empty frame and only closes the
 * stream's side. A body written before `end()` (a pipe, `res.write()` then a later
 * `res.end()`) still ends with the empty frame, and so does a response with trailers (their
 * HEADERS frame carries END_STREAM, trailers.ts). SPDY/3 and spdy's client keep
 * spdy-transport's way.
 */
import type { SpdyTransportModule } from './internals.js'
import { endsWithTrailers } from './trailers.js'

type Callback = (err?: Error | null) => void

interface StreamState {
  isServer: boolean
  aborted: boolean
  timeout: { reset(): void }
  window: { send: { update(size: number, callback: () => void): void } }
  priority: { getPriority(): number }
  framer: { dataFrame(frame: { id: number; priority: number; fin: boolean; data: Buffer }, callback: Callback): void }
}

interface EndingStream {
  [END]?: number
  id: number
  _spdyState: StreamState
  _writableState: { ending: boolean; bufferedRequest: BufferedWrite | null }
  connection: { _spdyState: { protocol?: { name: string } | null } }
  _maybeClose(): void
}

/** readable-stream 3's list of the writes waiting behind the one under way. */
interface BufferedWrite {
  chunk: { length: number }
  next: BufferedWrite | null
}

type OnChunk = (stream: EndingStream, state: StreamState, chunk: Buffer, callback: Callback) => void
type SplitStart = (this: EndingStream, data: Buffer, onChunk: OnChunk, callback: Callback) => void
type OnFinish = (this: EndingStream) => void

/**
 * Where a stream is in ending (a symbol-keyed field: its default, `undefined`, sits on the
 * prototype, so only streams that end get a field of their own): `ENDING` once its response's
 * `end()` was called, `ENDED` once its last DATA frame carried END_STREAM.
 */
const END = Symbol('express-h2-push.end-with-data')
const ENDING = 1
const ENDED = 2

/**
 * Marks `stream` as ending, from the response's `end()`: Node's `end(body)` writes the body
 * before it ends the socket (which ends the stream only once the response has finished), so
 * the stream's own Writable does not know yet that this write is its last.
 */
export function endsWithThisWrite(stream: object): void {
  ;(stream as { [END]?: number })[END] = ENDING
}

function aborted(state: StreamState, callback: Callback): boolean {
  if (!state.aborted) return false
  process.nextTick(callback, new Error('Stream write aborted'))
  return true
}

/** spdy-transport's `_send` (stream.js) for a stream's last chunk: the DATA frame carries END_STREAM. */
function sendLast(stream: EndingStream, state: StreamState, data: Buffer, callback: Callback): void {
  if (aborted(state, callback)) return
  state.timeout.reset()
  state.window.send.update(-data.length, () => {
    if (aborted(state, callback)) return
    state.timeout.reset()
    stream[END] = ENDED
    state.framer.dataFrame({ id: stream.id, priority: state.priority.getPriority(), fin: true, data }, (err) => callback(err))
  })
}

/** Whether only empty writes wait behind the one under way (Node's `end()` writes an empty string after the body). */
function nothingBehind(writable: EndingStream['_writableState']): boolean {
  for (let next = writable.bufferedRequest; next !== null; next = next.next) if (next.chunk.length > 0) return false
  return true
}

/** Whether this write is the last of an HTTP/2 server stream: its response or Writable is ending and no data waits behind it. */
function lastWrite(stream: EndingStream, data: unknown): data is Buffer {
  const writable = stream._writableState
  return (
    (writable.ending || stream[END] === ENDING) &&
    nothingBehind(writable) &&
    !endsWithTrailers(stream) &&
    stream._spdyState.isServer &&
    Buffer.isBuffer(data) &&
    data.length > 0 &&
    stream.connection._spdyState.protocol?.name === 'h2'
  )
}

/** Wraps `Stream#_splitStart`: the last chunk of a stream's last write goes with END_STREAM. */
export function endOnLastData(splitStart: SplitStart): SplitStart {
  return function splitStartEndingOnData(this: EndingStream, data, onChunk, callback): void {
    if (!lastWrite(this, data)) return splitStart.call(this, data, onChunk, callback)
    const end = data.byteOffset + data.length
    const sendChunk: OnChunk = (stream, state, chunk, done) => {
      if (chunk.buffer === data.buffer && chunk.byteOffset + chunk.length === end) sendLast(stream, state, chunk, done)
      else onChunk(stream, state, chunk, done)
    }
    splitStart.call(this, data, sendChunk, callback)
  }
}

/** Wraps `Stream#_onFinish`: a stream whose last DATA frame carried END_STREAM sends no empty one. */
export function noEmptyEndAfterData(onFinish: OnFinish): OnFinish {
  return function onFinishAfterData(this: EndingStream): void {
    if (this[END] === ENDED) this._maybeClose()
    else onFinish.call(this)
  }
}

/** Installs both wraps on spdy-transport's Stream. */
export function installEndWithData(transport: SpdyTransportModule): void {
  const proto = transport.Stream.prototype as unknown as Record<string | symbol, unknown>
  proto[END] = undefined
  proto['_splitStart'] = endOnLastData(proto['_splitStart'] as SplitStart)
  proto['_onFinish'] = noEmptyEndAfterData(proto['_onFinish'] as OnFinish)
}
