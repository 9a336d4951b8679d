/**
 * What a held request stream keeps, made smaller.
 *
 * A stream whose request the app holds (a long poll, an event stream, a slow upload)
 * keeps everything spdy-transport made for it until it closes. Much of that is made per
 * stream but needed by few:
 *
 * - Listener tables. Node's EventEmitter keeps an emitter's listeners in
 *   `{ __proto__: null }`, which V8 makes a dictionary: about 180 bytes with one event,
 *   470 with the seven a request stream has; and an array of three listeners grown by
 *   `push` has room for twenty (200 bytes). Here the stream's, its socket's and its
 *   response's tables are ordinary objects over an empty, frozen, null-prototype object:
 *   nothing is inherited (no `toString` found for an event named so), V8 keeps them in
 *   fast mode (about 100 bytes for seven events, their shapes shared by every stream:
 *   the same events, added in the same order), and arrays are copied to their length
 *   once the request is wired. EventEmitter reads and writes the table as before (and
 *   makes a new dictionary when the last listener goes).
 * - The connection's `stream.once('close', () => self._removeStream(stream))`: a once
 *   wrapper, a bound function and a closure context per stream, 250 bytes. Here one
 *   function shared by every stream, which removes itself before it runs, as `once` does.
 * - The window's 'overflow' closure (light-windows.ts shares it).
 * - A `Timeout` per stream, though a stream has a timeout only once `setTimeout` is
 *   called on it: until then the stream shares one that is never set.
 * - readable-stream's spare `CorkedRequest` (and its closure), which only a stream with
 *   `_writev` uses; spdy-transport's streams have none.
 * - The six properties of a stream's state that are its connection's
 *   (light-stream-state.ts).
 */
import type { EventEmitter } from 'node:events'
import { IncomingMessage, ServerResponse } from 'node:http'
import type { SpdyConnection, SpdyStream, SpdyTransportModule } from './internals.js'
import { shareOverflowHandler } from './light-windows.js'
import { shareConnectionState } from './light-stream-state.js'
import { compactStreamStates } from './held-stream-states.js'

type Table = Record<string | symbol, ((...args: unknown[]) => unknown) | Array<(...args: unknown[]) => unknown> | undefined>
type Listening = EventEmitter & { _events: Table; _eventsCount: number }

/** What every fast table inherits: nothing. */
const NOTHING = Object.freeze(Object.create(null) as object)

/**
 * An array of listeners at its length. Node 24's EventEmitter keeps a count on the array
 * (a symbol property: how many emits are iterating it, so that removing a listener then
 * copies the array instead of shifting it under them): the copy keeps it, and an array
 * being emitted is left as it is.
 */
function atLength(list: Array<(...args: unknown[]) => unknown>): Array<(...args: unknown[]) => unknown> {
  const symbols = Object.getOwnPropertySymbols(list)
  const fields = list as unknown as Record<symbol, unknown>
  if (symbols.some((s) => fields[s] !== 0 && fields[s] !== undefined)) return list
  const copy = list.slice()
  for (const s of symbols) (copy as unknown as Record<symbol, unknown>)[s] = fields[s]
  return copy
}

/** The emitter's listeners, in the same order, in a fast-mode table; arrays at their length. */
export function compactListeners(emitter: EventEmitter): void {
  const e = emitter as Listening
  const events = e._events
  if (events === undefined) return
  if (Object.getPrototypeOf(events) === NOTHING) {
    for (const key of Reflect.ownKeys(events)) {
      const value = events[key]
      // `push` grew it past its length (EventEmitter makes the first array, of two, exactly).
      if (Array.isArray(value) && value.length > 2) events[key] = atLength(value)
    }
    return
  }
  const table = Object.create(NOTHING) as Table
  for (const key of Reflect.ownKeys(events)) {
    const value = events[key]
    table[key] = Array.isArray(value) && value.length > 2 ? atLength(value) : value
  }
  e._events = table
}

/** spdy-transport's `stream.once('close', () => connection._removeStream(stream))`, shared. */
function removeClosedStream(this: SpdyStream): void {
  this.removeListener('close', removeClosedStream)
  this.connection._removeStream(this)
}

interface Timeout {
  delay: number
  timer: unknown
  object: unknown
  set(delay: number, callback?: () => void): void
  reset(): void
}
type TimeoutConstructor = new (object: unknown) => Timeout
interface HeldState {
  timeout: Timeout
}
type CreateStream = (this: SpdyConnection, uri: { id?: number; [key: string]: unknown }) => SpdyStream
type SetTimeout = (this: SpdyStream, delay: number, callback?: () => void) => void
type OnceWrapper = ((...args: unknown[]) => unknown) & { listener?: (...args: unknown[]) => unknown }

export function installHeldStreams(transport: SpdyTransportModule): void {
  const Timeout = (transport as unknown as { utils: { Timeout: TimeoutConstructor } }).utils.Timeout
  /** The timeout of every stream not given one: never set, so nothing to reset. */
  const noTimeout = Object.create(Timeout.prototype) as Timeout
  noTimeout.delay = 0
  noTimeout.timer = null
  noTimeout.object = null
  noTimeout.reset = function resetNothing(): void {}
  noTimeout.set = function setNothing(delay: number, callback?: () => void): void {
    // spdy-transport clears a closing stream's timeout (`set(0)`); a stream is given its own before any other.
    if (delay !== 0 || callback !== undefined) throw new Error('the shared unset timeout cannot be set')
  }

  const connProto = transport.Connection.prototype as unknown as Record<string, unknown>
  const createStream = connProto['_createStream'] as CreateStream
  connProto['_createStream'] = function createHeldStream(this: SpdyConnection, uri: Parameters<CreateStream>[0]): SpdyStream {
    const stream = createStream.call(this, uri)
    shareConnectionState(this, stream)
    const events = (stream as unknown as Listening)._events
    const close = events['close'] as OnceWrapper | undefined
    // The connection's handler: the only 'close' listener yet, a `once` wrapper (none on a
    // stream made only to be refused, which the connection does not keep).
    if (typeof close === 'function' && typeof close.listener === 'function' && this._spdyState.stream.map[stream.id] === stream) {
      events['close'] = removeClosedStream
    }
    compactListeners(stream)
    shareOverflowHandler(stream as unknown as Parameters<typeof shareOverflowHandler>[0])
    const state = stream._spdyState as unknown as HeldState
    if (state.timeout instanceof Timeout && state.timeout.delay === 0 && state.timeout.timer === null) state.timeout = noTimeout
    const writable = (stream as unknown as { _writableState: { corkedRequestsFree: unknown } })._writableState
    if (typeof (stream as unknown as { _writev?: unknown })._writev !== 'function') writable.corkedRequestsFree = null
    return stream
  }

  const streamProto = transport.Stream.prototype as unknown as Record<string, unknown>
  const setTimeout = streamProto['setTimeout'] as SetTimeout
  streamProto['setTimeout'] = function setOwnTimeout(this: SpdyStream, delay: number, callback?: () => void): void {
    const state = this._spdyState as unknown as HeldState
    if (state.timeout === noTimeout) state.timeout = new Timeout(this)
    setTimeout.call(this, delay, callback)
  }
}

/** Node's symbol for a response's header table (`{ __proto__: null }`, made by the first `setHeader`). */
const kOutHeaders = (() => {
  const probe = new ServerResponse(new IncomingMessage(null as never))
  probe.setHeader('x', '1')
  return Object.getOwnPropertySymbols(probe).find((s) => s.description === 'kOutHeaders')
})()

/**
 * Past this many headers a table built by keyed stores goes back to dictionary mode
 * (V8 keeps at most 4 in the object and about 12 more in its property array): such a
 * response keeps Node's own table.
 */
const MAX_FAST_HEADERS = 16

/**
 * A held response's header table as a fast-mode object over NOTHING, its entries the same
 * (Node keeps each as a `[name, value]` array and reads them by key, `Object.keys` and
 * `for...in`, none of which sees a difference). Node makes it `{ __proto__: null }`, a
 * dictionary: about 160 bytes with one header, 830 with the fifteen helmet and Express set,
 * kept for as long as the response is held; about 60 and 200 here. A header set or removed
 * later is set or deleted on this table as on Node's (a deletion makes it a dictionary again).
 */
export function compactHeaders(res: object): void {
  if (kOutHeaders === undefined) return
  const fields = res as Record<symbol, Record<string, unknown> | null | undefined>
  const headers = fields[kOutHeaders]
  if (headers === null || typeof headers !== 'object' || Object.getPrototypeOf(headers) !== null) return
  const names = Object.keys(headers)
  if (names.length > MAX_FAST_HEADERS) return
  const table = Object.create(NOTHING) as Record<string, unknown>
  for (const name of names) table[name] = headers[name]
  fields[kOutHeaders] = table
}

/** Requests wired this turn of the event loop: those still held at its end wait in `young`. */
let wired: Array<[EventEmitter, EventEmitter, EventEmitter & { writableEnded: boolean }]> = []

type Held = EventEmitter & { writableEnded: boolean }

/**
 * How often requests still held are compacted: a request is compacted once it has been held
 * for one to two periods. A request that waits on I/O for a few ms (a file read, a fetch to a
 * backend) ends before that and pays nothing; switched on at the end of a request's first turn,
 * as before, the compaction cost a cold server serving a page's ten stylesheets (each held for
 * its file read) about 2 ms per page load on loopback.
 */
export const HELD_PERIOD_MS = 50

/** Held at the end of their first turn, since the last period began; and since the one before (compacted at the next tick). */
let young = new Map<Held, [EventEmitter, EventEmitter]>()
let old = new Map<Held, [EventEmitter, EventEmitter]>()
let ticking: ReturnType<typeof setTimeout> | undefined

function endOfTurn(): void {
  const batch = wired
  wired = []
  for (let i = 0; i < batch.length; i++) {
    // By index: destructuring an array walks its iterator, an object per step in unoptimized code.
    const entry = batch[i]!
    if (!entry[2].writableEnded) young.set(entry[2], [entry[0], entry[1]])
  }
  tickWhileHeld()
}

function tickWhileHeld(): void {
  if (ticking !== undefined || (young.size === 0 && old.size === 0)) return
  ticking = setTimeout(compactHeld, HELD_PERIOD_MS)
  // Nothing to keep a process alive for.
  ticking.unref()
}

function compactHeld(): void {
  ticking = undefined
  const batch = old
  old = young
  young = new Map()
  for (const [res, [stream, socket]] of batch) {
    if (res.writableEnded) continue
    compactListeners(stream)
    compactListeners(socket)
    compactListeners(res)
    compactHeaders(res)
    compactStreamStates(stream)
  }
  tickWhileHeld()
}

/**
 * Compacts the listener tables of a request's stream, socket and response (compactListeners)
 * and the response's header table (compactHeaders), and makes the stream's readable-stream
 * states again without their constant settings (compactStreamStates), if the request is still
 * held once this turn of the event loop is over and one to two HELD_PERIOD_MS later: most
 * responses have ended by then, and their tables go with them, so only held ones pay for the copy.
 */
export function compactIfHeld(stream: EventEmitter, socket: EventEmitter, res: EventEmitter & { writableEnded: boolean }): void {
  if (wired.length === 0) setImmediate(endOfTurn)
  wired.push([stream, socket, res])
}

/** A response that finished: not kept for compaction (nor its stream and socket) until the next period. */
export function releaseHeld(res: EventEmitter): void {
  if (!young.delete(res as Held)) old.delete(res as Held)
}
