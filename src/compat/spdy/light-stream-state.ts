/**
 * A stream's `_spdyState` with what is its connection's kept once per connection.
 *
 * spdy-transport's Stream starts its state as `{}` and gives it 21 properties: V8 keeps 4
 * in the object and the others in a separate property array, about 215 bytes a stream,
 * kept for as long as the stream is held. Twelve of them are the same for every HTTP/2
 * stream a connection makes (`socket`, `protocol`, `constants`, `version`, `isServer`,
 * `debug`, `framer`, `parser`, `request`, `needResponse`, `sessionWindow`, `maxChunk`):
 * here ten are read through one object per connection (a getter on the prototype), and
 * the stream's own eleven, with `debug` and `framer` (read at every step), are fields of a
 * class, inside the object (128 bytes; the cork queue, an empty array for all but a few
 * turns of a stream, is made when a write waits on it). Reading any of them gives what it
 * gave before; writing one of the shared ten (a client's stream, given its response, sets
 * `needResponse`; `setMaxChunk` sets `maxChunk`) gives that stream its own value, as before.
 * The state is replaced as the stream is made, before anything (a frame, a callback) holds it.
 */

/** The properties of a stream's state that are its connection's, in spdy-transport's order. */
const SHARED = [
  'socket',
  'protocol',
  'constants',
  'version',
  'isServer',
  'debug',
  'framer',
  'parser',
  'request',
  'needResponse',
  'sessionWindow',
  'maxChunk',
] as const
/** The stream's own, in spdy-transport's order. */
const OWN = ['priority', 'window', 'sent', 'readable', 'writable', 'aborted', 'corked', 'corkQueue', 'timeout'] as const
const KEYS = new Set<string>([...SHARED, ...OWN])

type Shared = Record<(typeof SHARED)[number], unknown>
type Original = Record<string, unknown>

class StreamState {
  priority: unknown
  debug: unknown
  framer: unknown
  window: unknown
  sent: unknown
  readable: unknown
  writable: unknown
  aborted: unknown
  corked: unknown
  /** `corkQueue`, made when a write first waits on it: a held stream's is empty (see below). */
  _corkQueue: unknown[] | null
  timeout: unknown
  /** The values this stream shares with the other streams of its connection. */
  _connectionShared: Shared
  /** The request's socket, when the stream is a direct request's (direct-requests.ts). */
  directSocket: unknown

  constructor(from: Original, shared: Shared) {
    this.priority = from['priority']
    this.debug = from['debug']
    this.framer = from['framer']
    this.window = from['window']
    this.sent = from['sent']
    this.readable = from['readable']
    this.writable = from['writable']
    this.aborted = from['aborted']
    this.corked = from['corked']
    this._corkQueue = noneIfEmpty(from['corkQueue'])
    this.timeout = from['timeout']
    this._connectionShared = shared
    this.directSocket = null
  }
}

for (const name of SHARED) {
  // Fields of the class, for speed: the shared object keeps them too, to tell connections apart.
  if (name === 'debug' || name === 'framer') continue
  Object.defineProperty(StreamState.prototype, name, {
    configurable: true,
    enumerable: false,
    get(this: StreamState): unknown {
      return this._connectionShared[name]
    },
    set(this: StreamState, value: unknown): void {
      // This stream's own value from now on, as an ordinary property would have it.
      Object.defineProperty(this, name, { configurable: true, enumerable: true, writable: true, value })
    },
  })
}

function noneIfEmpty(queue: unknown): unknown[] | null {
  return Array.isArray(queue) && queue.length === 0 ? null : (queue as unknown[])
}

/**
 * spdy-transport's `corkQueue`: the writes and the end waiting for a response's or a push's
 * frames to be written (`_hardCork`), run by `_hardUncork`, which then sets a new empty
 * array. Held streams are past that, and keep no array: one is made when a write next waits.
 */
Object.defineProperty(StreamState.prototype, 'corkQueue', {
  configurable: true,
  enumerable: false,
  get(this: StreamState): unknown[] {
    let queue = this._corkQueue
    if (queue === null) {
      queue = []
      this._corkQueue = queue
    }
    return queue
  },
  set(this: StreamState, queue: unknown): void {
    this._corkQueue = noneIfEmpty(queue)
  },
})

/** Per connection: the shared values its last stream was given. */
const sharedOf = new WeakMap<object, Shared>()

/**
 * Gives an HTTP/2 stream, just made, a StreamState with its connection's values shared.
 * A state with other properties than spdy-transport's 21 (another version of it) is left
 * as it is.
 */
export function shareConnectionState(connection: object, stream: { _spdyState: unknown }): void {
  const state = stream._spdyState as Original
  if (state === null || typeof state !== 'object' || state instanceof StreamState || state['version'] !== 4) return
  const keys = Object.keys(state)
  if (keys.length !== KEYS.size || !keys.every((k) => KEYS.has(k))) return
  let shared = sharedOf.get(connection)
  if (shared === undefined || !SHARED.every((name) => shared![name] === state[name])) {
    shared = Object.create(null) as Shared
    for (const name of SHARED) shared[name] = state[name]
    sharedOf.set(connection, shared)
  }
  stream._spdyState = new StreamState(state, shared)
}
