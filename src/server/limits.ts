/**
 * Per-connection limits against the HTTP/2 attack families, as `createServer({ limits })`.
 *
 * node:http2 has nghttp2's own limits for most of them; spdy had none. The same
 * numbers bound both transports: spdy through the protocol guard of the compatibility
 * layer (src/compat/spdy/protocol-guard.ts), node:http2 through nghttp2's options and,
 * where nghttp2 has no limit (PRIORITY frames), through ours (`limitHttp2Session`, on
 * Node 20: later Node versions no longer report PRIORITY frames to JavaScript). A
 * connection past a limit gets GOAWAY(ENHANCE_YOUR_CALM) and is closed; a client that
 * does not read its socket is closed at once.
 */
import type { Http2Session, Http2Stream } from 'node:http2'
import { constants } from 'node:http2'
import type { Socket } from 'node:net'
import { validateOptions } from '../options/validate.js'
import { type StallProbe, watchStalledWindows } from './stalled-windows.js'

/** A token bucket: `burst` events at once, refilled at `perSecond`. */
export interface RateLimit {
  readonly burst: number
  readonly perSecond: number
}

export interface H2Limits {
  /**
   * RST_STREAM frames a client may send (rapid reset, CVE-2023-44487). Default
   * `{ burst: 1000, perSecond: 33 }` (nghttp2's).
   */
  resets?: RateLimit
  /**
   * CONTINUATION frames after one HEADERS frame (CONTINUATION flood, CVE-2024-27316).
   * Default `8` (nghttp2's).
   */
  maxContinuations?: number
  /**
   * SETTINGS_MAX_HEADER_LIST_SIZE, advertised and enforced: the decoded size of a
   * header list (names + values + 32 per field), and the size of its compressed block.
   * A request over it is reset with ENHANCE_YOUR_CALM; a compressed block over it ends
   * the connection (HPACK bombs, huge cookies, CVE-2016-6581). Default `65536`.
   */
  maxHeaderListSize?: number
  /** Fields in one header list (CVE-2019-9516 family). Default `128` (Node's `maxHeaderListPairs`). */
  maxHeaderListPairs?: number
  /**
   * Control frames (PING and SETTINGS acknowledgements, RST_STREAM) the server may have
   * queued for a client that does not read them (CVE-2019-9512, 9514, 9515). Default
   * `1000` (nghttp2's `max_outbound_ack`).
   */
  maxQueuedControlFrames?: number
  /**
   * Frames that carry nothing: empty DATA without END_STREAM, empty HEADERS or
   * CONTINUATION without END_HEADERS (CVE-2019-9518), in a connection's life.
   * Default `1000` (Node's `maxSessionInvalidFrames`).
   */
  maxEmptyFrames?: number
  /**
   * PRIORITY frames for streams that are not open (CVE-2019-9513): cheap each, but
   * endless. Default `{ burst: 1000, perSecond: 100 }`.
   */
  idlePriorities?: RateLimit
  /**
   * Window dribble (CVE-2019-9511): a connection whose responses wait this long (`ms`) on a
   * client that set the INITIAL_WINDOW_SIZE of its streams under `minWindow` bytes gets
   * GOAWAY ENHANCE_YOUR_CALM. Default `{ ms: 1000, minWindow: 1024 }`.
   */
  stalledWindow?: { readonly ms: number; readonly minWindow: number }
  /**
   * Request streams refused before they reach the app, in a connection's life: over
   * maxConcurrentStreams, malformed, or with a header list over the limits (HPACK bombs
   * sent one request at a time). Default `100` (Node's `maxSessionRejectedStreams`).
   */
  maxRejectedStreams?: number
}

export type ResolvedH2Limits = { readonly [K in keyof H2Limits]-?: NonNullable<H2Limits[K]> }

export const DEFAULT_LIMITS: ResolvedH2Limits = Object.freeze({
  resets: Object.freeze({ burst: 1000, perSecond: 33 }),
  maxContinuations: 8,
  maxHeaderListSize: 65536,
  maxHeaderListPairs: 128,
  maxQueuedControlFrames: 1000,
  maxEmptyFrames: 1000,
  idlePriorities: Object.freeze({ burst: 1000, perSecond: 100 }),
  stalledWindow: Object.freeze({ ms: 1000, minWindow: 1024 }),
  maxRejectedStreams: 100,
})

const COUNT = { min: 1, max: 2 ** 31 - 1, integer: true } as const

const LIMIT_TYPES = {
  resets: 'object',
  maxContinuations: COUNT,
  maxHeaderListSize: { min: 1024, max: 2 ** 31 - 1, integer: true },
  maxHeaderListPairs: { min: 8, max: 2 ** 31 - 1, integer: true },
  maxQueuedControlFrames: COUNT,
  maxEmptyFrames: COUNT,
  idlePriorities: 'object',
  stalledWindow: 'object',
  maxRejectedStreams: COUNT,
} as const

const STALL_TYPES = { ms: { min: 100, max: 2 ** 31 - 1, unit: 'ms' }, minWindow: { min: 1, max: 2 ** 31 - 1, integer: true } } as const
const RATE_TYPES = { burst: COUNT, perSecond: { min: 0, max: 2 ** 31 - 1 } } as const

function rate(where: string, value: RateLimit | undefined, fallback: RateLimit): RateLimit {
  if (value === undefined) return fallback
  validateOptions(where, value, RATE_TYPES)
  return Object.freeze({ ...fallback, ...value })
}

function stall(value: H2Limits['stalledWindow']): ResolvedH2Limits['stalledWindow'] {
  if (value === undefined) return DEFAULT_LIMITS.stalledWindow
  validateOptions('createServer: limits.stalledWindow', value, STALL_TYPES)
  return Object.freeze({ ...DEFAULT_LIMITS.stalledWindow, ...value })
}

/** Checks `createServer`'s `limits` and fills in the defaults. Throws ERR_H2PUSH_INVALID_OPTION. */
export function resolveLimits(limits: Readonly<H2Limits> = {}): ResolvedH2Limits {
  validateOptions('createServer: limits', limits, LIMIT_TYPES)
  const defined = Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined)) as H2Limits
  return Object.freeze({
    ...DEFAULT_LIMITS,
    ...defined,
    resets: rate('createServer: limits.resets', defined.resets, DEFAULT_LIMITS.resets),
    idlePriorities: rate('createServer: limits.idlePriorities', defined.idlePriorities, DEFAULT_LIMITS.idlePriorities),
    stalledWindow: stall(defined.stalledWindow),
  })
}

/**
 * The same limits as node:http2 server options, where Node has them (nghttp2 keeps its own
 * CONTINUATION and control-frame limits). `streamResetBurst`/`streamResetRate` are
 * ignored by Node versions without them.
 */
export function nghttp2Limits(limits: ResolvedH2Limits): Record<string, number> {
  return {
    maxSessionInvalidFrames: limits.maxEmptyFrames,
    maxHeaderListPairs: limits.maxHeaderListPairs,
    streamResetBurst: limits.resets.burst,
    streamResetRate: limits.resets.perSecond,
  }
}

/** A token bucket: `burst` tokens, `perSecond` back. */
export class TokenBucket {
  #tokens: number
  #at = Date.now()
  constructor(readonly rate: RateLimit) {
    this.#tokens = rate.burst
  }
  /** Takes a token; false when none is left. */
  take(): boolean {
    const now = Date.now()
    this.#tokens = Math.min(this.rate.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate.perSecond)
    this.#at = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}

/** What the stalled-window watch needs of a node:http2 session (stalled-windows.ts). */
function http2Probe(session: Http2Session, open: ReadonlySet<Http2Stream>): StallProbe {
  return {
    socket: session.socket as Socket,
    pending: () => {
      if (session.destroyed) return false
      for (const stream of open) if (stream.writableLength > 0) return true
      return false
    },
    smallWindow: (minWindow) => (session.remoteSettings.initialWindowSize ?? Infinity) < minWindow,
  }
}

/**
 * GOAWAY(ENHANCE_YOUR_CALM), then the session destroyed: on a later turn, never inside the
 * event that found the limit passed. Those events run inside nghttp2's own frame handling;
 * a session destroyed there aborts the process (Node 20: `CheckAllocatedSize` assertion in
 * node_http2.cc, when nghttp2 then frees the stream it was resetting).
 */
function calm(session: Http2Session): void {
  setImmediate(() => {
    if (session.destroyed) return
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM)
    session.destroy()
  })
}

/**
 * Our limits on a node:http2 session where nghttp2 has none, or Node does not pass ours on:
 * - `resets`: streams the client reset. Node 22 and later hand `streamResetBurst`/`Rate` to
 *   nghttp2; Node 20 ignores them (nghttp2's own 1 000/33 stays), so they are counted here too.
 * - `stalledWindow`: window dribble (stalled-windows.ts).
 * - `maxRejectedStreams`: streams nghttp2 refused before JavaScript saw them (header lists
 *   over the limits, one HPACK bomb a request), counted from the stream ids it processed.
 * - `idlePriorities`: PRIORITY frames. Node 20 reports them as the session's 'priority'
 *   event; Node 22 and later do not (and their nghttp2 ends such a flood itself).
 */
export function limitHttp2Session(session: Http2Session, limits: ResolvedH2Limits): void {
  const resets = new TokenBucket(limits.resets)
  const open = new Set<Http2Stream>()
  let surfaced = 0
  // One listener for every stream of the session ('close' comes once, after 'aborted' if
  // the client reset the stream, which sets `stream.aborted`): nothing made per stream.
  const closed = function streamClosed(this: Http2Stream): void {
    open.delete(this)
    if (this.aborted && !resets.take()) calm(session)
  }
  session.on('stream', (stream: Http2Stream) => {
    surfaced++
    open.add(stream)
    stream.on('close', closed)
  })
  const probe = http2Probe(session, open)
  // nghttp2 refuses some request streams before JavaScript sees them (a header list over the
  // limits): the ids it processed, less the streams it handed on.
  probe.overLimit = () => {
    const rejected = Math.ceil((session.state.lastProcStreamID ?? 0) / 2) - surfaced
    return rejected > limits.maxRejectedStreams ? `${rejected} request streams refused` : undefined
  }
  const unwatch = watchStalledWindows(probe, limits.stalledWindow, () => calm(session))
  session.once('close', unwatch)
  const priorities = new TokenBucket(limits.idlePriorities)
  session.on('priority', () => {
    if (!priorities.take()) calm(session)
  })
}
