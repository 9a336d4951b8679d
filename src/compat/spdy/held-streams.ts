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
 * - The stream's 'close' listeners as an array: this layer's are functions shared by every
 *   stream (the connection's, the guard's, the stream limit's, the idle clock's, the
 *   request's), three to five of them, an array of 70 to 90 bytes. On a held stream, the
 *   run of such listeners (sharedCloseListener) its 'close' starts with becomes one function
 *   that calls them in their order, shared by the streams with the same ones
 *   (joinedCloseListener); the app's own stay after it.
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
import { compactStreamStates, wakeBeforeWrites } from './held-stream-states.js'

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
  if (beingEmitted(list)) return list
  const symbols = Object.getOwnPropertySymbols(list)
  const fields = list as unknown as Record<symbol, unknown>
  const copy = list.slice()
  for (const s of symbols) (copy as unknown as Record<symbol, unknown>)[s] = fields[s]
  return copy
}

/** Node 24+ counts the emits iterating an array of listeners on it (a symbol property): one counted is left as it is. */
function beingEmitted(list: unknown[]): boolean {
  const fields = list as unknown as Record<symbol, unknown>
  return Object.getOwnPropertySymbols(list).some((s) => fields[s] !== 0 && fields[s] !== undefined)
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

type Listener = (this: SpdyStream) => void

/** 'close' listeners that every stream shares, that keep nothing per stream and that nothing else removes. */
const sharedClose = new Set<Listener>()

/** Marks `listener` as one of those (sharedClose), so that a held stream may have it joined with the others. */
export function sharedCloseListener<T extends Listener>(listener: T): T {
  sharedClose.add(listener)
  return listener
}

/** spdy-transport's `stream.once('close', () => connection._removeStream(stream))`, shared. */
const removeClosedStream = sharedCloseListener(function removeClosedStream(this: SpdyStream): void {
  this.removeListener('close', removeClosedStream)
  this.connection._removeStream(this)
})

/** The joined listeners made so far, by their members (a few: one per set of features a server has). */
const joined: Array<{ members: readonly Listener[]; listener: Listener }> = []
const MAX_JOINED = 32

/**
 * One function that calls these 'close' listeners in this order: the same function for the
 * same ones. It calls each at every 'close', as the stream did. The connection's
 * (removeClosedStream) removed itself, a `once`: here it is called again by a later 'close'
 * (spdy-transport may emit one after an abort), and does nothing then, as the connection
 * removes a stream once (connection.ts, removeStreamOnce).
 */
function joinedCloseListener(members: readonly Listener[]): Listener | undefined {
  for (const j of joined) if (j.members.length === members.length && j.members.every((m, i) => m === members[i])) return j.listener
  if (joined.length >= MAX_JOINED) return undefined
  const calls = members.slice()
  const listener = function joinedClose(this: SpdyStream): void {
    for (let i = 0; i < calls.length; i++) calls[i]!.call(this)
  }
  joined.push({ members: calls, listener })
  return listener
}

/**
 * A held stream's 'close' listeners as one function, when they are all this layer's shared
 * ones; when the app added its own after them, this layer's as one function before the app's.
 */
function joinCloseListeners(stream: EventEmitter): void {
  const events = (stream as Listening)._events
  const close = events?.['close']
  if (!Array.isArray(close) || beingEmitted(close)) return
  let shared = 0
  while (shared < close.length && sharedClose.has(close[shared] as Listener)) shared++
  if (shared < 2) return
  const listener = joinedCloseListener(close.slice(0, shared) as Listener[])
  if (listener === undefined) return
  if (shared === close.length) {
    events['close'] = listener
    return
  }
  const list = [listener, ...close.slice(shared)]
  // Node 24+ counts the emits iterating the array on it (0 here, see beingEmitted), and without the
  // count a `once` listener removing itself mid-emit would shift the array and skip the next one.
  const fields = close as unknown as Record<symbol, unknown>
  for (const s of Object.getOwnPropertySymbols(close)) (list as unknown as Record<symbol, unknown>)[s] = fields[s]
  events['close'] = list
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
  wakeBeforeWrites(streamProto)
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
    joinCloseListeners(stream)
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
