/**
 * A held stream's readable-stream states with their constant settings kept once.
 *
 * spdy-transport's Stream is a readable-stream 3 Duplex: its ReadableState has 24
 * properties (216 bytes) and its WritableState 27 (240 bytes). Ten of the first and six of
 * the second are the same on every spdy-transport stream and never written by streams
 * that are not piped or given an encoding (`objectMode`, `highWaterMark`,
 * `defaultEncoding`, `emitClose`, `autoDestroy`, `decodeStrings`, and the readable side's
 * `pipes`, `pipesCount`, `awaitDrain`, `decoder`, `encoding`). For a stream still held 50–100
 * ms after its request's first turn (held-streams.ts), both states are made again with only
 * the others as fields (136 and 192 bytes; no `onwrite` closure until the stream writes
 * again, and no read buffer while it would be empty: below); the constant ones are read from an object
 * between the new state and readable-stream's prototype, which holds the values every
 * stream had. A write to one of them (`pipe`, `setEncoding`, `setDefaultEncoding`) gives
 * that state its own value, as on any object.
 *
 * A held stream at rest mostly has both sides in one state: its request's body has been read
 * to its end, and no write is in flight. Every field of such a side has the same value on every
 * such stream (but `sync`, and the writable side's stream), so such a side is made again with
 * only those as fields (32 and 40 bytes), the rest read from one object of the values at rest
 * between it and the light class. A write to one of those gives the state its own value, as
 * on any object; and the stream's own writes (`write`, `end`, `cork`, `uncork`, `destroy`,
 * `setDefaultEncoding`) first make its writable side a light state with every field again, so
 * that readable-stream's write path keeps seeing the shapes it saw before.
 *
 * readable-stream passes a state to a few callbacks it schedules (`resume_`,
 * `maybeReadMore_`, `endReadableNT`, `afterWrite`, `finishMaybe`, `callFinal`): a state
 * is replaced only when none can be pending (no resume or read-more scheduled, no end
 * pending, no write or final in flight), and a state with other properties or other
 * values than the ones expected (another version of readable-stream, a stream made with
 * options) is left as it is.
 */

type State = Record<string, unknown>

const READABLE_SHARED = [
  'objectMode',
  'highWaterMark',
  'pipes',
  'pipesCount',
  'emitClose',
  'autoDestroy',
  'defaultEncoding',
  'awaitDrain',
  'decoder',
  'encoding',
] as const
const READABLE_OWN = [
  'buffer',
  'length',
  'flowing',
  'ended',
  'endEmitted',
  'reading',
  'sync',
  'needReadable',
  'emittedReadable',
  'readableListening',
  'resumeScheduled',
  'paused',
  'destroyed',
  'readingMore',
] as const
const WRITABLE_SHARED = ['objectMode', 'highWaterMark', 'decodeStrings', 'defaultEncoding', 'emitClose', 'autoDestroy'] as const
const WRITABLE_OWN = [
  'finalCalled',
  'needDrain',
  'ending',
  'ended',
  'finished',
  'destroyed',
  'length',
  'writing',
  'corked',
  'sync',
  'bufferProcessing',
  'onwrite',
  'writecb',
  'writelen',
  'bufferedRequest',
  'lastBufferedRequest',
  'pendingcb',
  'prefinished',
  'errorEmitted',
  'bufferedRequestCount',
  'corkedRequestsFree',
] as const

class HeldReadableState {
  /** readable-stream's `buffer` (a BufferList): none while it would be empty (see below). */
  _buffer: { length: number } | null
  length: unknown
  flowing: unknown
  ended: unknown
  endEmitted: unknown
  reading: unknown
  sync: unknown
  needReadable: unknown
  emittedReadable: unknown
  readableListening: unknown
  resumeScheduled: unknown
  paused: unknown
  destroyed: unknown
  readingMore: unknown

  constructor(from: State) {
    const buffer = from['buffer'] as { length: number }
    this._buffer = buffer.length === 0 ? null : buffer
    this.length = from['length']
    this.flowing = from['flowing']
    this.ended = from['ended']
    this.endEmitted = from['endEmitted']
    this.reading = from['reading']
    this.sync = from['sync']
    this.needReadable = from['needReadable']
    this.emittedReadable = from['emittedReadable']
    this.readableListening = from['readableListening']
    this.resumeScheduled = from['resumeScheduled']
    this.paused = from['paused']
    this.destroyed = from['destroyed']
    this.readingMore = from['readingMore']
  }
}

class HeldWritableState {
  finalCalled: unknown
  needDrain: unknown
  ending: unknown
  ended: unknown
  finished: unknown
  destroyed: unknown
  length: unknown
  writing: unknown
  corked: unknown
  sync: unknown
  bufferProcessing: unknown
  /** readable-stream's `onwrite` callback for this stream: made again when a write next needs it (see below). */
  _onwrite: unknown
  /** The stream, to make `onwrite` for. */
  _stream: object
  writecb: unknown
  writelen: unknown
  bufferedRequest: unknown
  lastBufferedRequest: unknown
  pendingcb: unknown
  prefinished: unknown
  errorEmitted: unknown
  bufferedRequestCount: unknown
  corkedRequestsFree: unknown

  constructor(from: State, stream: object) {
    this.finalCalled = from['finalCalled']
    this.needDrain = from['needDrain']
    this.ending = from['ending']
    this.ended = from['ended']
    this.finished = from['finished']
    this.destroyed = from['destroyed']
    this.length = from['length']
    this.writing = from['writing']
    this.corked = from['corked']
    this.sync = from['sync']
    this.bufferProcessing = from['bufferProcessing']
    this._onwrite = null
    this._stream = stream
    this.writecb = from['writecb']
    this.writelen = from['writelen']
    this.bufferedRequest = from['bufferedRequest']
    this.lastBufferedRequest = from['lastBufferedRequest']
    this.pendingcb = from['pendingcb']
    this.prefinished = from['prefinished']
    this.errorEmitted = from['errorEmitted']
    this.bufferedRequestCount = from['bufferedRequestCount']
    this.corkedRequestsFree = from['corkedRequestsFree']
  }
}

/**
 * A readable side that has ended and been read to its end: every field as ENDED_READABLE has it
 * but `sync`, which readable-stream leaves as the last read found it.
 */
class EndedReadableState {
  sync: unknown
  constructor(sync: unknown) {
    this.sync = sync
  }
}

/** HeldReadableState's fields at the end of a body read to its end (the buffer made again only if asked for). */
const ENDED_READABLE: Readonly<State> = {
  _buffer: null,
  length: 0,
  flowing: true,
  ended: true,
  endEmitted: true,
  reading: false,
  needReadable: false,
  emittedReadable: false,
  readableListening: false,
  resumeScheduled: false,
  paused: false,
  destroyed: false,
  readingMore: false,
}

/** A writable side with no write in flight, queued, corked or ending: every field as IDLE_WRITABLE has it but `sync`. */
class IdleWritableState {
  /** The stream, to make `onwrite` for and to be given a whole state again when it writes. */
  _stream: object
  sync: unknown
  constructor(stream: object, sync: unknown) {
    this._stream = stream
    this.sync = sync
  }
}

/** HeldWritableState's fields at rest (a write, a cork, an end or a destroy makes them the stream's own again). */
const IDLE_WRITABLE: Readonly<State> = {
  finalCalled: false,
  needDrain: false,
  ending: false,
  ended: false,
  finished: false,
  destroyed: false,
  length: 0,
  writing: false,
  corked: 0,
  bufferProcessing: false,
  _onwrite: null,
  writecb: null,
  writelen: 0,
  bufferedRequest: null,
  lastBufferedRequest: null,
  pendingcb: 0,
  prefinished: false,
  errorEmitted: false,
  bufferedRequestCount: 0,
  corkedRequestsFree: null,
}

/** Each of `state`'s own fields but `except` has the value `values` has for it (the buffer: empty). */
function atRest(state: State, own: readonly string[], values: Readonly<State>, except: readonly string[]): boolean {
  for (const k of own) {
    if (except.includes(k)) continue
    if (k === 'buffer' ? (state[k] as { length: number }).length !== 0 : state[k] !== values[k]) return false
  }
  return true
}

/**
 * Puts the values at rest between a class and the light one: read from there until written.
 * Not frozen: a write to one of them makes it the state's own, which a frozen one would refuse.
 */
function restOn(Rest: { prototype: object }, Light: { prototype: object }, values: Readonly<State>): void {
  const rest = Object.create(Light.prototype) as State
  Object.assign(rest, values)
  Object.setPrototypeOf(Rest.prototype, rest)
  delete (Rest.prototype as { constructor?: unknown }).constructor
}
restOn(EndedReadableState, HeldReadableState, ENDED_READABLE)
restOn(IdleWritableState, HeldWritableState, IDLE_WRITABLE)

type Stream = { _writableState: unknown }

/** A stream about to write, cork, end or be destroyed: its writable side with every field again, the values it reads now. */
function wake(stream: Stream): void {
  const state = stream._writableState
  if (!(state instanceof IdleWritableState)) return
  const idle = state as unknown as State
  const held = new HeldWritableState(idle, stream) as unknown as State
  // Anything else written on the idle state (nothing in readable-stream or spdy-transport does) is kept.
  for (const k of Object.keys(idle)) if (!WRITABLE_KNOWN.has(k)) held[k] = idle[k]
  stream._writableState = held
}

/** The idle state's own fields that HeldWritableState takes over (its fields, and the idle state's `_stream`). */
const WRITABLE_KNOWN = new Set<string>([...WRITABLE_OWN, '_onwrite', '_stream'])

type Method = (this: Stream, a?: unknown, b?: unknown, c?: unknown) => unknown

/**
 * Wakes the writable side of a stream of this prototype before each of its writing methods:
 * readable-stream's write path then sees the shapes it saw before (a WritableState or a
 * HeldWritableState), never one that gains its fields a write at a time.
 */
export function wakeBeforeWrites(streamProto: Record<string, unknown>): void {
  for (const name of ['write', 'end', 'cork', 'uncork', 'destroy', 'setDefaultEncoding'] as const) {
    const method = streamProto[name] as Method
    if (typeof method !== 'function') continue
    // Three arguments at most (`end(chunk, encoding, callback)`), passed on as given: none of these reads `arguments.length`.
    streamProto[name] = {
      [name](this: Stream, a?: unknown, b?: unknown, c?: unknown): unknown {
        if (this._writableState instanceof IdleWritableState) wake(this)
        return method.call(this, a, b, c)
      },
    }[name]
  }
}

/** readable-stream's BufferList, as the first state compacted had it. */
let BufferList: (new () => { length: number }) | undefined

/**
 * A held stream's read buffer is empty (its body was read, or is not sent yet): its state
 * keeps none, and one is made (readable-stream's own BufferList) when the buffer is next
 * read or written, and kept from then on.
 */
Object.defineProperty(HeldReadableState.prototype, 'buffer', {
  configurable: true,
  enumerable: false,
  get(this: HeldReadableState): unknown {
    let buffer = this._buffer
    if (buffer === null) {
      buffer = new BufferList!()
      this._buffer = buffer
    }
    return buffer
  },
  set(this: HeldReadableState, buffer: { length: number } | null): void {
    this._buffer = buffer
  },
})

type WritableStateConstructor = new (options: object, stream: object, isDuplex: boolean) => State

/**
 * readable-stream's WritableState makes `onwrite`, a closure over the stream that it hands
 * to `_write` as its callback, for every stream (about 105 bytes with its context). A
 * held stream at rest is not writing: its state keeps the stream instead, and the first
 * write after makes the closure again, the only way there is to make it (the constructor
 * that made the first one: a throwaway state for the same stream, whose `onwrite` calls
 * readable-stream's `onwrite(stream, er)` as the first did). It is kept from then on.
 */
Object.defineProperty(HeldWritableState.prototype, 'onwrite', {
  configurable: true,
  enumerable: false,
  get(this: HeldWritableState): unknown {
    let onwrite = this._onwrite
    if (onwrite === null) {
      const WritableState = (writableLayer!.proto as { constructor: WritableStateConstructor }).constructor
      onwrite = new WritableState({}, this._stream, true)['onwrite']
      this._onwrite = onwrite
    }
    return onwrite
  },
  set(this: HeldWritableState, onwrite: unknown): void {
    this._onwrite = onwrite
  },
})

/** The shared values of one kind of state, put between the light class and readable-stream's prototype by the first state seen. */
interface Layer {
  proto: object
  values: State
}

function sameKeys(state: State, shared: readonly string[], own: readonly string[]): boolean {
  const keys = Object.keys(state)
  if (keys.length !== shared.length + own.length) return false
  for (const k of shared) if (!Object.hasOwn(state, k)) return false
  for (const k of own) if (!Object.hasOwn(state, k)) return false
  return true
}

/**
 * The layer for states of this prototype whose shared values are `state`'s; the first
 * state seen sets it (and the light class's prototype chain), later ones must match.
 */
function layerFor(state: State, shared: readonly string[], Light: { prototype: object }, current: Layer | undefined): Layer | undefined {
  const proto = Object.getPrototypeOf(state) as object
  if (current === undefined) {
    const values = Object.create(proto) as State
    for (const k of shared) values[k] = state[k]
    Object.setPrototypeOf(Light.prototype, values)
    // `state.constructor` is readable-stream's ReadableState / WritableState, as before.
    delete (Light.prototype as { constructor?: unknown }).constructor
    return { proto, values }
  }
  if (current.proto !== proto) return undefined
  for (const k of shared) if (current.values[k] !== state[k]) return undefined
  return current
}

let readableLayer: Layer | undefined
let writableLayer: Layer | undefined

/** No callback readable-stream schedules with the state can be pending. */
function readableAtRest(r: State): boolean {
  return r['resumeScheduled'] === false && r['readingMore'] === false && (r['ended'] === false || r['endEmitted'] === true)
}

function writableAtRest(w: State): boolean {
  return (
    w['pendingcb'] === 0 && w['writing'] === false && w['length'] === 0 && w['bufferedRequest'] === null && (w['ending'] === false || w['finished'] === true)
  )
}

/** Makes a held stream's two states again with their constant settings shared (see above). */
export function compactStreamStates(stream: object): void {
  const s = stream as { _readableState?: State; _writableState?: State }
  const r = s._readableState
  if (r && !(r instanceof HeldReadableState) && sameKeys(r, READABLE_SHARED, READABLE_OWN) && readableAtRest(r) && knownBuffer(r)) {
    const layer = layerFor(r, READABLE_SHARED, HeldReadableState, readableLayer)
    if (layer !== undefined) {
      readableLayer = layer
      s._readableState = (atRest(r, READABLE_OWN, ENDED_READABLE, ['sync']) ? new EndedReadableState(r['sync']) : new HeldReadableState(r)) as unknown as State
    }
  }
  const w = s._writableState
  if (w && !(w instanceof HeldWritableState) && sameKeys(w, WRITABLE_SHARED, WRITABLE_OWN) && writableAtRest(w)) {
    const layer = layerFor(w, WRITABLE_SHARED, HeldWritableState, writableLayer)
    if (layer !== undefined) {
      writableLayer = layer
      s._writableState = (atRest(w, WRITABLE_OWN, IDLE_WRITABLE, ['sync', 'onwrite'])
        ? new IdleWritableState(stream, w['sync'])
        : new HeldWritableState(w, stream)) as unknown as State
    }
  }
}

/** The state's buffer is a BufferList of the kind the first state had (that is what an empty one is made again as). */
function knownBuffer(r: State): boolean {
  const buffer = r['buffer'] as { length?: unknown; constructor?: unknown } | null
  if (buffer === null || typeof buffer !== 'object' || typeof buffer.length !== 'number' || typeof buffer.constructor !== 'function') return false
  BufferList ??= buffer.constructor as new () => { length: number }
  return buffer.constructor === BufferList
}
