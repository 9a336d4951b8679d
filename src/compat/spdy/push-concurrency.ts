/**
 * The peer's SETTINGS_MAX_CONCURRENT_STREAMS, for pushed streams.
 *
 * spdy-transport never reads that setting (`TODO(indutny): handle
 * max_concurrent_streams` in its `_handleSettings`): every push stream got its
 * response HEADERS at once. A client that allows N concurrent streams (nghttp
 * `--max-concurrent-streams=N`, libnghttp2 clients send 100 by default) receives
 * HEADERS for pushed stream N+1 while N are open, which libnghttp2 treats as a
 * connection error: GOAWAY(PROTOCOL_ERROR), and every request on the connection is
 * lost. RFC 9113 §5.1.2: an endpoint MUST NOT exceed the limit set by its peer;
 * streams in the "reserved" state do not count.
 *
 * So a promise (PUSH_PROMISE) still goes out at once — it reserves a stream, which
 * does not count — and the push's response HEADERS wait, with its body held behind
 * them, until one of the connection's open pushed streams is closed *on the wire*:
 * its END_STREAM written, or its RST_STREAM sent or received. (Not on the stream's
 * 'close' event: spdy-transport writes HEADERS ahead of queued DATA, so the next
 * push's HEADERS would overtake the END_STREAM that closes the previous one.) This is
 * what libnghttp2 (node:http2) does on its own. A waiting push that is reset or times
 * out leaves the queue without ever taking a slot.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import type { SpdyConnection, SpdyFramer, SpdyStream } from './internals.js'

interface Waiting {
  stream: SpdyStream
  start: () => void
}

/** Open pushed streams of one connection, and the pushes waiting for one to close. */
class PushSlots {
  /** The peer's SETTINGS_MAX_CONCURRENT_STREAMS; no limit until it sends one. */
  limit = Infinity
  /** Open pushed streams by id. */
  readonly open = new Map<number, SpdyStream>()
  readonly waiting: Waiting[] = []

  /** Runs `start` now if a slot is free, or once one is; `stream` holds the slot until it closes. */
  acquire(stream: SpdyStream, start: () => void): void {
    if (this.open.size < this.limit) {
      this.take(stream, start)
      return
    }
    const entry = { stream, start }
    this.waiting.push(entry)
    stream.once('close', () => {
      const at = this.waiting.indexOf(entry)
      if (at !== -1) this.waiting.splice(at, 1)
    })
  }

  /** Starts waiting pushes while slots are free (after a close, or a larger limit). */
  drain(): void {
    while (this.waiting.length > 0 && this.open.size < this.limit) {
      const next = this.waiting.shift()!
      if (next.stream._spdyState.aborted) continue
      this.take(next.stream, next.start)
    }
  }

  /** The END_STREAM of stream `id` was written: its slot is free. */
  endStreamWritten(id: number): void {
    const stream = this.open.get(id)
    if (stream) this.release(stream)
  }

  private take(stream: SpdyStream, start: () => void): void {
    this.open.set(stream.id, stream)
    // An END_STREAM releases the slot once written (endStreamWritten); a reset at once.
    stream.once('close', () => {
      if (stream._spdyState.aborted) this.release(stream)
    })
    start()
  }

  private release(stream: SpdyStream): void {
    if (this.open.get(stream.id) === stream && this.open.delete(stream.id)) this.drain()
  }
}

// One per connection, found from its framer (streams and the framer's frames share it).
const slotsByFramer = new WeakMap<SpdyFramer, PushSlots>()

function slotsOf(framer: SpdyFramer): PushSlots {
  let slots = slotsByFramer.get(framer)
  if (!slots) {
    slots = new PushSlots()
    slotsByFramer.set(framer, slots)
  }
  return slots
}

interface DataFrame {
  id: number
  fin?: boolean
}
type WriteDataFrame = (this: SpdyFramer, frame: DataFrame, callback?: (err?: Error | null) => void) => void

/** Tells the connection's push slots when a DATA frame carrying END_STREAM has been written. */
export function reportEndStreamWritten(dataFrame: WriteDataFrame): WriteDataFrame {
  return function dataFrameReportingEndStream(this: SpdyFramer, frame, callback): void {
    const slots = frame.fin ? slotsByFramer.get(this) : undefined
    if (!slots) {
      dataFrame.call(this, frame, callback)
      return
    }
    dataFrame.call(this, frame, (err) => {
      slots.endStreamWritten(frame.id)
      callback?.(err)
    })
  }
}

type HandleSettings = (this: SpdyConnection, settings: Record<string, number | undefined>) => void

/** Records the peer's SETTINGS_MAX_CONCURRENT_STREAMS, and lets waiting pushes go when it grows. */
export function recordPeerStreamLimit(handleSettings: HandleSettings): HandleSettings {
  return function handleSettingsRecordingStreamLimit(this: SpdyConnection, settings): void {
    handleSettings.call(this, settings)
    const limit = settings['max_concurrent_streams']
    if (limit === undefined || !this._spdyState.isServer) return
    const slots = slotsOf(this._spdyState.framer)
    slots.limit = limit
    slots.drain()
  }
}

type Respond = (this: SpdyStream, status: number, headers: OutgoingHttpHeaders, callback?: (err?: Error | null) => void) => void
type SendPush = (this: SpdyStream, status: number, response: OutgoingHttpHeaders | false, callback: (err?: Error | null) => void) => void

function isServerPush(stream: SpdyStream): boolean {
  return stream.parent !== null && stream.connection._spdyState.isServer
}

/**
 * A pushed stream's `respond()` (its response HEADERS) waits for a stream slot. Its
 * body, written meanwhile, stays queued behind the HEADERS (the stream is corked).
 */
export function respondWithinStreamLimit(respond: Respond): Respond {
  return function respondWithinPeerLimit(this: SpdyStream, status, headers, callback): void {
    if (!isServerPush(this)) {
      respond.call(this, status, headers, callback)
      return
    }
    this._hardCork()
    slotsOf(this._spdyState.framer).acquire(this, () => {
      respond.call(this, status, headers, callback)
      this._hardUncork()
    })
  }
}

/**
 * spdy's own `res.push(path, { response })` sends the PUSH_PROMISE and the pushed
 * response HEADERS together; split them so that the HEADERS take the `respond()` path
 * above. The stream stays corked from the promise to its HEADERS, so a body written
 * right after `res.push()` cannot overtake them.
 */
export function promiseThenRespond(sendPush: SendPush): SendPush {
  return function sendPushWithinPeerLimit(this: SpdyStream, status, response, callback): void {
    if (response === false || !isServerPush(this)) {
      sendPush.call(this, status, response, callback)
      return
    }
    this._hardCork()
    sendPush.call(this, status, false, (err) => {
      if (err) {
        this._hardUncork()
        callback(err)
        return
      }
      callback(null)
      this.respond(status, response, () => {})
      this._hardUncork()
    })
  }
}
