/**
 * Wires the protocol guard (protocol-guard.ts) into spdy-transport's HTTP/2 server
 * connections: the parser's frame heads and header blocks, the connection's frames,
 * SETTINGS and parser errors, and the framer's RST_STREAMs. Client connections (spdy's
 * agent) and SPDY/3 are left as they are.
 *
 * Also fixes, on guarded connections:
 * - A header block is decoded at once, synchronously (hpack-decode.ts, against the
 *   Decompressor's own table), and a decoding error is a connection error
 *   COMPRESSION_ERROR. spdy-transport decoded it through a stream whose write callback ran
 *   before the decoder's error: the headers decoded up to the error were handed on as a
 *   request, then the error came as a second answer for one frame.
 * - A parser error sends GOAWAY with its code (spdy-transport wrote the number where the
 *   framer looks up a name: every such GOAWAY said NO_ERROR), and the socket closes once the
 *   GOAWAY is written (the server's 'error' listener destroyed it before).
 * - A SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream's window above 2^31-1 is a
 *   connection error FLOW_CONTROL_ERROR (RFC 9113 §6.9.2).
 * - A dynamic table size update after a field of the same block is a COMPRESSION_ERROR
 *   (RFC 7541 §4.2).
 *
 * And the parser hands each frame it parses to its connection directly. spdy-transport's
 * parser is a readable-stream Transform whose only reader is its connection's 'data'
 * listener: every frame went through `Readable#push`, the readable state's bookkeeping,
 * a 'data' event and a `maybeReadMore` tick (which reads the empty Transform again), to
 * reach `_handleFrame` in the same order it reaches it now: about 150 JavaScript calls
 * per connection with one request (of some 4 700; node:http2 makes 2 400), on a path that
 * runs cold while a server is young (a page-load benchmark's server makes ten connections).
 * The end of the input (`push(null)`) still takes the stream's own way.
 */
import createDebug from 'debug'
import type { Socket } from 'node:net'
import { DEFAULT_LIMITS, type ResolvedH2Limits } from '../../server/limits.js'
import { type StallProbe, watchStalledWindows } from '../../server/stalled-windows.js'
import type { Field } from './header-rules.js'
import { type HpackBlockDecoder, type HpackDecodeTable, HeaderListTooLarge } from './hpack-decode.js'
import type { SpdyConnection, SpdyFrame, SpdyStream } from './internals.js'
import { type ConnectionError, type FrameHeader, ProtocolGuard } from './protocol-guard.js'
import { writeFramesToSocket } from './framer-writes.js'
import { sharedCloseListener } from './held-streams.js'

const debug = createDebug('express-h2-push:spdy-guard')

/** The connection option that carries the limits (`createServer` sets it). */
export const LIMITS_OPTION = 'h2Limits'

const GUARD = Symbol('express-h2-push.guard')
/** The connection a guarded parser hands its frames to. */
const FRAMES_TO = Symbol('express-h2-push.frames-to')
/** The header names of the last header block a guarded parser decoded, in order (headerTableFor). */
const LAST_NAMES = Symbol('express-h2-push.last-header-names')
const MAX_WINDOW = 2 ** 31 - 1
const END_HEADERS = 0x4
/** How long a connection ended by the guard may take to write its GOAWAY before its socket is destroyed. */
const GOAWAY_GRACE_MS = 1000

interface OffsetBuffer {
  size: number
  toChunks(): Buffer[]
}

interface HpackDecompressor {
  _table: HpackDecodeTable
}

interface HeaderBlockItem {
  id: number
  frame: SpdyFrame & { headers?: Record<string, unknown>; path?: unknown }
  queue: Buffer[]
  size: number
}

interface GuardedParser {
  [GUARD]?: ProtocolGuard
  [FRAMES_TO]?: SpdyConnection
  [LAST_NAMES]?: string[]
  _transformState: { needTransform: boolean }
  pendingHeader: FrameHeader | null
  _lastHeaderBlock: HeaderBlockItem | null
  decompress: { stream: HpackDecompressor } | null
  maxHeaderListSize: number
  error(code: string | number, message: string): Error & { code: string | number; now?: boolean }
  kill(): void
}

type Callback = (err: Error | null, frame?: unknown) => void
type ParserMethod = (this: GuardedParser, ...args: never[]) => void

export interface GuardedModules {
  Connection: { create: (socket: Socket, options: Record<string, unknown>) => SpdyConnection; prototype: Record<string, unknown> }
  /** The HTTP/2 Parser's prototype. */
  parserProto: Record<string, unknown>
  /** The header blocks' decoder, made with hpack.js's Huffman code (hpack-decode.ts). */
  hpackDecoder: HpackBlockDecoder
  constants: { errorByCode: string[] }
  addHeaderLine: (name: string, value: string, headers: Record<string, unknown>) => void
}

const guards = new WeakMap<SpdyConnection, ProtocolGuard>()

/** The guard of a spdy server connection, if it has one. */
export function guardOf(connection: SpdyConnection): ProtocolGuard | undefined {
  return guards.get(connection)
}

/** A stream's 'close' listener, shared by every stream (no closure kept per held stream). */
const forgetClosedStream = sharedCloseListener(function forgetClosedStream(this: SpdyStream): void {
  guards.get(this.connection)?.streamClosed(this.id)
})

/** Ends `connection` for `error`: GOAWAY with its code, the socket closed once it is written (at once when the client does not read). */
export function endConnection(connection: SpdyConnection, error: ConnectionError): void {
  const guard = guards.get(connection)
  const socket = connection.socket as Socket
  if (guard?.ended) {
    if (error.now) socket.destroy()
    return
  }
  if (guard) guard.ended = true
  debug('GOAWAY %s: %s', error.code, error.message)
  const state = connection._spdyState
  state.parser.kill()
  if (state.goaway === false) connection._goaway({ lastId: state.stream.lastId.received, code: error.code, extra: error.message, send: true })
  if (error.now) socket.destroy()
  else setTimeout(() => socket.destroy(), GOAWAY_GRACE_MS).unref()
}

function attach(connection: SpdyConnection, limits: ResolvedH2Limits): void {
  const guard = new ProtocolGuard(connection, limits, (error) => endConnection(connection, error))
  guards.set(connection, guard)
  const state = connection._spdyState as SpdyConnection['_spdyState'] & { parser: GuardedParser }
  state.parser[GUARD] = guard
  state.parser[FRAMES_TO] = connection
  writeFramesToSocket(state.framer, connection.socket as Socket)
  state.parser.maxHeaderListSize = limits.maxHeaderListSize
  const framer = state.framer as unknown as Record<string, (frame: Record<string, unknown>, callback?: unknown) => void>
  const settingsFrame = framer['settingsFrame']!
  framer['settingsFrame'] = function settingsFrameWithHeaderListSize(settings, callback) {
    settingsFrame.call(this, { ...settings, max_header_list_size: limits.maxHeaderListSize }, callback)
  }
  const rstFrame = framer['rstFrame']!
  framer['rstFrame'] = function rstFrameCounted(frame, callback) {
    rstFrame.call(this, frame, callback)
    const flood = guard.queuedControl()
    if (flood) endConnection(connection, flood)
  }
  let unwatch: (() => void) | undefined
  connection.on('stream', (stream: SpdyStream) => {
    stream.on('close', forgetClosedStream)
    unwatch ??= watchStalledWindows(spdyProbe(connection), limits.stalledWindow, () =>
      endConnection(connection, {
        code: 'ENHANCE_YOUR_CALM',
        message: `responses held over ${limits.stalledWindow.ms} ms by windows under ${limits.stalledWindow.minWindow} bytes`,
      }),
    )
  })
  connection.once('close', () => unwatch?.())
}

/** What the stalled-window watch needs of a spdy connection (src/server/stalled-windows.ts). */
function spdyProbe(connection: SpdyConnection): StallProbe {
  const state = connection._spdyState as SpdyConnection['_spdyState'] & { streamWindow: { send: { max: number } } }
  return {
    socket: connection.socket as Socket,
    pending: () => {
      for (const stream of Object.values(state.stream.map)) if ((stream._writableState as { length?: number }).length) return true
      return false
    },
    smallWindow: (minWindow) => state.streamWindow.send.max < minWindow,
  }
}

function guardFrameHeads(onFrameHead: ParserMethod) {
  return function onFrameHeadGuarded(this: GuardedParser, buffer: never, callback: Callback): void {
    const guard = this[GUARD]
    if (!guard) return (onFrameHead as (this: GuardedParser, b: never, c: Callback) => void).call(this, buffer, callback)
    ;(onFrameHead as (this: GuardedParser, b: never, c: Callback) => void).call(this, buffer, (err, frame) => {
      if (err || !this.pendingHeader) return callback(err, frame)
      const problem = guard.frameHead(this.pendingHeader)
      if (!problem) return callback(null, frame)
      const error = this.error(problem.code, problem.message)
      if (problem.now) error.now = true
      callback(error)
    })
  }
}

type Push = (this: GuardedParser, chunk: unknown, encoding?: BufferEncoding) => boolean

/** The parser's `push` (readable-stream's Transform#push): a guarded parser's frames go straight to its connection. */
function framesStraightToConnection(push: Push): Push {
  return function pushFrame(this: GuardedParser, frame, encoding) {
    const connection = this[FRAMES_TO]
    if (connection === undefined || frame === null) return push.call(this, frame, encoding)
    // What Transform#push does before it pushes: the Transform reads its next chunk when asked.
    this._transformState.needTransform = false
    connection._handleFrame(frame as SpdyFrame)
    return true
  }
}

function guardHeaderBlocks(queueHeaderBlock: ParserMethod, modules: GuardedModules) {
  return function queueHeaderBlockGuarded(this: GuardedParser, header: FrameHeader, block: OffsetBuffer, callback: Callback): void {
    const guard = this[GUARD]
    if (!guard) return (queueHeaderBlock as (this: GuardedParser, h: FrameHeader, b: OffsetBuffer, c: Callback) => void).call(this, header, block, callback)
    const item = this._lastHeaderBlock
    if (!item || item.id !== header.id) return callback(this.error('PROTOCOL_ERROR', 'No matching stream for continuation'))
    const chunks = block.toChunks()
    for (let i = 0; i < chunks.length; i++) {
      item.queue.push(chunks[i]!)
      item.size += chunks[i]!.length
    }
    if (item.size > guard.limits.maxHeaderListSize) {
      guard.blockRefused()
      return callback(this.error('ENHANCE_YOUR_CALM', `header block over ${guard.limits.maxHeaderListSize} bytes`))
    }
    if ((header.flags & END_HEADERS) === 0) return callback(null, null)
    this._lastHeaderBlock = null

    let fields: Field[]
    try {
      const block = item.queue.length === 1 ? item.queue[0]! : Buffer.concat(item.queue)
      fields = modules.hpackDecoder.decode(this.decompress!.stream._table, block, guard.limits.maxHeaderListSize)
    } catch (err) {
      guard.blockRefused()
      return callback(this.error(err instanceof HeaderListTooLarge ? 'ENHANCE_YOUR_CALM' : 'COMPRESSION_ERROR', (err as Error).message))
    }
    const verdict = guard.headerBlock(fields)
    if (verdict.reject) {
      guard.reject(item.id, verdict.reject.code, verdict.reject.reason)
      return callback(null, null)
    }
    if (verdict.ignore) return callback(null, null)
    const headers = headerTableFor(this, fields)
    for (let i = 0; i < fields.length; i++) modules.addHeaderLine(fields[i]!.name, fields[i]!.value, headers)
    item.frame.headers = headers
    item.frame.path = headers[':path']
    callback(null, item.frame)
  }
}

/**
 * A request's header object (`stream.headers`, kept for as long as the stream is open): without a
 * prototype, as node:http2's, since spdy-transport's `addHeaderLine` checks `dest[name] !== undefined`
 * (on `{}` a request header `constructor: x` arrived as "function Object() { [native code] }, x" and
 * `__proto__` was lost).
 *
 * `Object.create(null)` is a dictionary in V8: 185 bytes with one header, 280 with four, 850 with a
 * browser's fifteen, kept for as long as a request is held. `{}` given a null prototype stays in
 * fast mode (57, 57 and 170 bytes; V8 makes it a dictionary only as it grows past about seventeen
 * names) and reads, enumerates, prints and serializes the same; but V8 gives it a shape per name,
 * in order, made the first time that sequence of names is seen. Names are the client's: one sending
 * new ones on every request would have a shape made per name per request (16 random names a request,
 * in paired runs: 143–194 µs of server CPU per request with every such object fast, 129–174 with the
 * rule below; 50–63 with a browser's names). So a block whose names are those of the connection's
 * previous block, in the same order (a browser's requests after its first, a client's repeated
 * requests), gets a fast object, its shapes made once; any other gets a dictionary, as before.
 */
export function headerTableFor(parser: GuardedParser, fields: readonly Field[]): Record<string, unknown> {
  const last = parser[LAST_NAMES]
  if (last !== undefined && last.length === fields.length) {
    let same = true
    for (let i = 0; i < fields.length; i++) {
      if (last[i] !== fields[i]!.name) {
        same = false
        break
      }
    }
    if (same) return Object.setPrototypeOf({}, null) as Record<string, unknown>
  }
  const names = new Array<string>(fields.length)
  for (let i = 0; i < fields.length; i++) names[i] = fields[i]!.name
  parser[LAST_NAMES] = names
  return Object.create(null) as Record<string, unknown>
}

type HandleFrame = (this: SpdyConnection, frame: SpdyFrame) => void
type HandleHeaders = (this: SpdyConnection, frame: SpdyFrame & { id: number }) => SpdyStream | undefined
type SetDefaultWindow = (this: SpdyConnection, settings: Record<string, number | undefined>) => void
type ParserError = (this: SpdyConnection, err: Error & { code?: string | number; now?: boolean }) => void

function guardFrames(handleFrame: HandleFrame): HandleFrame {
  return function handleFrameGuarded(this: SpdyConnection, frame): void {
    const guard = guards.get(this)
    if (guard && (guard.ended || !guard.beforeFrame(frame))) return
    handleFrame.call(this, frame)
  }
}

function noteRefusedStreams(handleHeaders: HandleHeaders): HandleHeaders {
  return function handleHeadersNotingRefused(this: SpdyConnection, frame) {
    const stream = handleHeaders.call(this, frame)
    if (!stream) guards.get(this)?.streamRefused(frame.id)
    return stream
  }
}

interface WindowSide {
  current: number
  max: number
}

function boundWindows(setDefaultWindow: SetDefaultWindow): SetDefaultWindow {
  return function setDefaultWindowBounded(this: SpdyConnection, settings): void {
    const size = settings['initial_window_size']
    if (size !== undefined && guards.has(this)) {
      const state = this._spdyState as SpdyConnection['_spdyState'] & { streamWindow: { send: WindowSide } }
      const delta = size - state.streamWindow.send.max
      for (const stream of Object.values(state.stream.map)) {
        const send = (stream._spdyState as unknown as { window: { send: WindowSide } }).window.send
        if (send.current + delta > MAX_WINDOW) {
          endConnection(this, { code: 'FLOW_CONTROL_ERROR', message: `SETTINGS_INITIAL_WINDOW_SIZE ${size} takes stream ${stream.id}'s window above 2^31-1` })
          return
        }
      }
    }
    setDefaultWindow.call(this, settings)
  }
}

function goawayOnParserError(onParserError: ParserError, modules: GuardedModules): ParserError {
  return function onParserErrorGuarded(this: SpdyConnection, err): void {
    if (!guards.has(this) || err.code === undefined) return onParserError.call(this, err)
    const code = typeof err.code === 'number' ? (modules.constants.errorByCode[err.code] ?? 'PROTOCOL_ERROR') : err.code
    endConnection(this, { code, message: err.message, now: err.now === true })
  }
}

/** Patches spdy-transport's HTTP/2 server connections with the protocol guard. Once. */
export function installProtocolGuard(modules: GuardedModules): void {
  const { Connection, parserProto } = modules
  const create = Connection.create
  Connection.create = function createGuarded(socket, options) {
    const connection = create.call(this, socket, options)
    const state = connection._spdyState as SpdyConnection['_spdyState'] & { protocol: { name: string } }
    if (state.isServer && state.protocol.name === 'h2') {
      attach(connection, (options[LIMITS_OPTION] as ResolvedH2Limits | undefined) ?? DEFAULT_LIMITS)
    }
    return connection
  }
  const proto = Connection.prototype
  proto['_handleFrame'] = guardFrames(proto['_handleFrame'] as HandleFrame)
  proto['_handleHeaders'] = noteRefusedStreams(proto['_handleHeaders'] as HandleHeaders)
  proto['_setDefaultWindow'] = boundWindows(proto['_setDefaultWindow'] as SetDefaultWindow)
  proto['_onParserError'] = goawayOnParserError(proto['_onParserError'] as ParserError, modules)

  parserProto['onFrameHead'] = guardFrameHeads(parserProto['onFrameHead'] as ParserMethod)
  parserProto['push'] = framesStraightToConnection(parserProto['push'] as Push)
  parserProto['queueHeaderBlock'] = guardHeaderBlocks(parserProto['queueHeaderBlock'] as ParserMethod, modules)
}
