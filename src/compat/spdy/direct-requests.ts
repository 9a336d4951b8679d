/**
 * HTTP/2 request streams become `req`/`res` directly, without spdy's per-stream socket.
 *
 * spdy made every HTTP/2 stream look like an HTTP/1.1 connection: a `net.Socket` over
 * a handle-thing handle, Node's HTTP/1 connection setup (an HTTP parser from the
 * parser pool, timeouts, a dozen listeners), and http-deceiver feeding that parser a
 * fake request head. The request body then came through the socket and the parser,
 * and the response went through the socket's Writable into the stream. That was most
 * of what spdy cost over node:http2 per request, and 6 KB a held stream.
 *
 * Here the request is an `http.IncomingMessage` and the response an
 * `http.ServerResponse` over a `StreamSocket`, a small object that forwards to the
 * spdy-transport stream what Node's HTTP code asks of a socket (write, end, cork,
 * destroy, timeouts, the TLS socket's addresses). What Node's HTTP/1 server does
 * around a request (`parserOnIncoming`, `resOnFinish`, `abortIncoming`) is done here
 * for the one request of the stream, so the app sees the same objects, fields and
 * events as before: `httpVersion` '1.1' (as spdy had it), `req.isSpdy`,
 * `req.spdyStream`, `res.push`, `res.writeEarlyHints`, 'aborted'/'close' on a reset.
 * SPDY/3 streams and spdy's client side keep spdy's own path.
 */
import { trailersAtEnd } from './trailers.js'
import { EventEmitter } from 'node:events'
import { IncomingMessage, ServerResponse, type OutgoingHttpHeaders } from 'node:http'
import type { Server as NetServer } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { markBodyOfUnknownLength } from '../request-body.js'
import type { SpdyRequest, SpdyResponse, SpdyStream } from './internals.js'
import { closedError } from './socket.js'
import { DirectRequest, DirectResponse } from './direct-messages.js'
import { compactIfHeld, releaseHeld, sharedCloseListener } from './held-streams.js'

type Callback = (err?: Error | null) => void

/** A private symbol of Node's, found by its description on an object or prototype. */
function symbolOf(target: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(target).find((s) => s.description === description)
}

const kNeedDrain = symbolOf(new ServerResponse(new IncomingMessage(null as never)), 'kNeedDrain')
/** Node 24+: `req.signal` is detached when the response finishes. */
const kDetachAbortSignal = symbolOf(IncomingMessage.prototype, 'kDetachAbortSignal')

interface NodeRequest extends SpdyRequest {
  _consuming: boolean
  _dumped: boolean
  _dump(): void
  _addHeaderLines(headers: unknown[], n: number): void
  spdyVersion?: number
}

interface NodeResponse extends SpdyResponse {
  _expect_continue: boolean
  _keepAliveTimeout: number
  _closed?: boolean
  _req: IncomingMessage
  isSpdy: boolean
  spdyVersion: number
  detachSocket(socket: object): void
  assignSocket(socket: object): void
}

function resetError(): Error {
  const err = new Error('aborted') as Error & { code: string }
  err.code = 'ECONNRESET'
  return err
}

const TLS_METHODS = [
  'getPeerCertificate',
  'getCipher',
  'getProtocol',
  'getSession',
  'isSessionReused',
  'getEphemeralKeyInfo',
  'getTLSTicket',
  'getFinished',
  'getPeerFinished',
  'getSharedSigalgs',
  'exportKeyingMaterial',
] as const

/**
 * What `req.socket`/`res.socket` is for an HTTP/2 stream: the socket-shaped surface
 * Node's `IncomingMessage`/`ServerResponse`, Express and its middleware use, over one
 * spdy-transport stream. Addresses and TLS details are the connection's.
 */
export class StreamSocket extends EventEmitter {
  readonly stream: SpdyStream
  readonly server: NetServer
  /** The response written through this socket (Node's name), until it finishes. */
  _httpMessage: ServerResponse | null = null
  /** None (Node's HTTP/1 sockets have theirs here): null, from the prototype (below), not a field per socket. */
  declare readonly parser: null
  readable = true
  writable = true
  destroyed = false
  _paused = false
  /** How many times the response corked this socket (Node's OutgoingMessage sets it through `_writableState`, below). */
  corked = 0
  /** The response has ended: closing ends the stream (END_STREAM) instead of resetting it. */
  ending = false
  /** The response finished: a later close does not abort the request. */
  responded = false
  /** The request of this stream. */
  request: NodeRequest | null = null
  #closed = false

  constructor(stream: SpdyStream, server: NetServer) {
    super()
    this.stream = stream
    this.server = server
  }

  get #raw(): TLSSocket {
    return this.stream.connection.socket as TLSSocket
  }
  /** The connection's (true over TLS); one written here is this socket's own from then on. */
  get encrypted(): boolean {
    return this.#raw.encrypted === true
  }
  set encrypted(value: boolean) {
    Object.defineProperty(this, 'encrypted', { configurable: true, enumerable: true, writable: true, value })
  }
  get remoteAddress(): string | undefined {
    return this.#raw.remoteAddress
  }
  get remotePort(): number | undefined {
    return this.#raw.remotePort
  }
  get remoteFamily(): string | undefined {
    return this.#raw.remoteFamily
  }
  get localAddress(): string | undefined {
    return this.#raw.localAddress
  }
  get localPort(): number | undefined {
    return this.#raw.localPort
  }
  get alpnProtocol(): string | false | null {
    return this.#raw.alpnProtocol ?? null
  }
  get servername(): string | false | null {
    return (this.#raw as TLSSocket & { servername?: string | false }).servername ?? null
  }
  get authorized(): boolean {
    return this.#raw.authorized
  }
  get authorizationError(): Error {
    return this.#raw.authorizationError
  }
  get bytesRead(): number {
    return this.#raw.bytesRead
  }
  get bytesWritten(): number {
    return this.#raw.bytesWritten
  }
  get connecting(): boolean {
    return false
  }
  get pending(): boolean {
    return false
  }
  get readyState(): string {
    return this.destroyed ? 'closed' : 'open'
  }
  address(): ReturnType<TLSSocket['address']> {
    return this.#raw.address()
  }

  /**
   * Node's OutgoingMessage sets `socket._writableState.corked = 1` as it ends a response, then
   * uncorks: the count is the socket's own (`corked`), not in an object per socket.
   */
  get _writableState(): { corked: number } {
    return this
  }
  get writableCorked(): number {
    return this.corked
  }
  get writableLength(): number {
    return (this.stream as unknown as { _writableState: { length: number } })._writableState.length
  }
  get writableHighWaterMark(): number {
    return (this.stream as unknown as { _writableState: { highWaterMark: number } })._writableState.highWaterMark
  }
  get readableHighWaterMark(): number {
    return (this.stream as unknown as { _readableState: { highWaterMark: number } })._readableState.highWaterMark
  }
  get writableEnded(): boolean {
    return this.stream._writableState.ended
  }
  get writableFinished(): boolean {
    return this.stream._writableState.finished
  }
  get timeout(): number | undefined {
    return undefined
  }

  /** Writes are handed to the stream at once (its frame scheduler batches them): a count only. */
  cork(): void {
    this.corked++
  }
  uncork(): void {
    if (this.corked > 0) this.corked--
  }

  write(data: Buffer | string, encoding?: BufferEncoding | Callback, cb?: Callback): boolean {
    if (typeof encoding === 'function') {
      cb = encoding
      encoding = undefined
    }
    const stream = this.stream
    if (this.destroyed || stream._spdyState.aborted || stream._writableState.ended) {
      const err = closedError()
      if (cb) process.nextTick(cb, err)
      return false
    }
    return stream.write(data, encoding ?? 'utf8', cb)
  }

  end(data?: Buffer | string | Callback, encoding?: BufferEncoding | Callback, cb?: Callback): this {
    if (typeof data === 'function') {
      cb = data
      data = undefined
    } else if (typeof encoding === 'function') {
      cb = encoding
      encoding = undefined
    }
    if (data !== undefined && data !== null && data.length > 0) this.write(data, encoding as BufferEncoding | undefined)
    this.writable = false
    const stream = this.stream
    if (stream._spdyState.aborted || stream._writableState.finished) {
      if (cb) process.nextTick(cb)
    } else if (stream._writableState.ended) {
      if (cb) stream.once('finish', () => cb())
    } else {
      stream.end(cb ? () => cb() : undefined)
    }
    return this
  }

  destroySoon(): void {
    this.end()
  }

  /** Ends the stream if its response ended, else resets it (RST_STREAM(CANCEL)); 'close' follows. */
  destroy(err?: Error | null): this {
    if (this.destroyed) return this
    this.destroyed = true
    this.readable = false
    this.writable = false
    const stream = this.stream
    if (this.ending) {
      if (!stream._writableState.ended && !stream._spdyState.aborted) stream.end()
    } else {
      stream.abort()
    }
    if (err) process.nextTick(() => this.emit('error', err))
    this.markClosed()
    return this
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Emits 'close' once, on a later turn (as a socket's handle closes). */
  markClosed(): void {
    if (this.#closed) return
    this.#closed = true
    this.destroyed = true
    this.readable = false
    this.writable = false
    setImmediate(() => this.emit('close', false))
  }

  pause(): this {
    this.stream.pause()
    return this
  }
  resume(): this {
    this.stream.resume()
    return this
  }

  setTimeout(ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback)
    this.stream.setTimeout(ms, ms > 0 ? () => this.emit('timeout') : undefined)
    return this
  }
  setNoDelay(): this {
    return this
  }
  setKeepAlive(): this {
    return this
  }
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }
}

for (const method of TLS_METHODS) {
  Object.defineProperty(StreamSocket.prototype, method, {
    configurable: true,
    writable: true,
    value: function tlsMethod(this: StreamSocket, ...args: unknown[]): unknown {
      const raw = this.stream.connection.socket as unknown as Record<string, (...a: unknown[]) => unknown>
      return typeof raw[method] === 'function' ? raw[method](...args) : undefined
    },
  })
}

// A data property, so that a write (Node's HTTP/1 server clears a socket's) gives that socket its own.
Object.defineProperty(StreamSocket.prototype, 'parser', { configurable: true, enumerable: false, writable: true, value: null })

/** The request head spdy gave Node's HTTP/1 parser: `:authority` as Host (in its place), no pseudo-headers. */
function rawHeadersOf(headers: Record<string, unknown>, forwardedFor: string | null): unknown[] {
  const raw: unknown[] = []
  // Where `host` and `x-forwarded-for` went: a later header of the same name takes its value there
  // (spdy built an object first, so a client's Host overwrote :authority's value in its place).
  let host = -1
  let forwarded = -1
  if (forwardedFor !== null) {
    forwarded = raw.length
    raw.push('x-forwarded-for', forwardedFor)
  }
  const names = Object.keys(headers)
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!
    const value = headers[name]
    if (name === ':authority' || (name === 'host' && host >= 0)) {
      if (host >= 0) raw[host + 1] = value
      else {
        host = raw.length
        raw.push('host', value)
      }
    } else if (name === 'host') {
      host = raw.length
      raw.push(name, value)
    } else if (name === 'x-forwarded-for' && forwarded >= 0) {
      raw[forwarded + 1] = value
    } else if (name.charCodeAt(0) !== 58 /* : */) {
      raw.push(name, value)
    }
  }
  // Kept as `req.rawHeaders` for as long as the request is held: at its length, not the room `push` made.
  return raw.slice()
}

/** Not ended yet, or ended with the body buffered (the request is made a turn after its HEADERS). */
export function mayHaveBody(stream: SpdyStream): boolean {
  const readable = (stream as unknown as { _readableState: { ended: boolean; length: number } })._readableState
  return !readable.ended || readable.length > 0
}

/** The spdy-transport stream a response writes to, while its socket is open. */
export function directStreamOf(res: { socket: unknown }): SpdyStream | undefined {
  const socket = res.socket
  return socket instanceof StreamSocket && !socket.destroyed ? socket.stream : undefined
}

export interface DirectOptions {
  /** spdy's `x-forwarded-for` option: the connection's X-Forwarded-For (from a SPDY proxy) as a request header. */
  forwardedFor: boolean
  /** `res.push` of spdy's response module. */
  push: (this: ServerResponse, path: string, headers: object, callback?: unknown) => unknown
  writeHead: (this: SpdyResponse, ...args: never[]) => SpdyResponse
  end: (this: SpdyResponse, ...args: never[]) => SpdyResponse
  writeEarlyHints: (this: SpdyResponse, hints: Record<string, string | readonly string[]>, callback?: () => void) => void
}

/**
 * The listeners below are shared by every request (an emitter calls them with itself as
 * `this`): a held stream keeps no closures of its own, only its objects. They find the
 * stream's StreamSocket in its state (`directSocket`, a field of light-stream-state.ts's
 * StreamState), not in a property added to the stream, which would give every stream a
 * property array.
 */
type Direct = SpdyStream & { _spdyState: { directSocket: StreamSocket } }

function socketOf(stream: SpdyStream): StreamSocket {
  return (stream as Direct)._spdyState.directSocket
}

function requestOf(stream: SpdyStream): NodeRequest {
  return socketOf(stream).request!
}

/** The body, as Node's parser hands it on: pushed, and the stream paused while `req` is full. */
function onStreamData(this: SpdyStream, chunk: Buffer): void {
  if (!requestOf(this).push(chunk)) this.pause()
}

function onStreamEnd(this: SpdyStream): void {
  const req = requestOf(this)
  req.complete = true
  req.push(null)
}

/**
 * spdy-transport's own 'end' listener (`_onEnd`, added as the stream is made) and then
 * ours, as one listener: an emitter keeps one function per event where two need an array
 * (about 64 bytes a held stream). They run in the same order, with the same `this`.
 */
function onStreamEndAfterSpdy(this: SpdyStream & { _onEnd(): void }): void {
  this._onEnd()
  onStreamEnd.call(this)
}

/** A trailer section as Node's `rawTrailers`: `[name, value, ...]`, no pseudo-headers, a list's values one by one. */
function rawTrailersOf(trailers: Record<string, unknown>): unknown[] {
  const raw: unknown[] = []
  for (const name of Object.keys(trailers)) {
    if (name.charCodeAt(0) === 58 /* : */) continue
    const value = trailers[name]
    if (Array.isArray(value)) for (const one of value) raw.push(name, one)
    else raw.push(name, value)
  }
  return raw
}

function onStreamTrailers(this: SpdyStream, trailers: unknown): void {
  const req = requestOf(this)
  // `req.trailers` and `req.rawTrailers`, as Node's parser leaves them at the message's end (it marks the message
  // complete first: `_addHeaderLines` then takes them as trailers). spdy only emitted 'trailers'.
  const raw = rawTrailersOf(trailers as Record<string, unknown>)
  const complete = req.complete
  req.complete = true
  req._addHeaderLines(raw, raw.length)
  req.complete = complete
  req.emit('trailers', trailers)
}

const onStreamClose = sharedCloseListener(function onStreamClose(this: SpdyStream): void {
  socketOf(this).markClosed()
})

function onStreamError(this: SpdyStream, err: Error): void {
  socketOf(this).destroy(err)
}

function onStreamDrain(this: SpdyStream): void {
  const msg = socketOf(this)._httpMessage as (ServerResponse & Record<symbol, boolean>) | null
  if (msg && !msg.finished && kNeedDrain && msg[kNeedDrain]) {
    msg[kNeedDrain] = false
    msg.emit('drain')
  }
}

/** A reset (or the connection closing) before the response finished: the request is aborted. */
function onSocketClose(this: StreamSocket): void {
  if (!this.responded) this.request?.destroy(resetError())
}

/**
 * Node's own 'close' listener on a response's socket (`onServerResponseClose`, added by
 * `res.assignSocket`), found on a response made here once: undefined if Node adds none.
 */
const nodeOnSocketClose = ((): ((this: StreamSocket) => void) | undefined => {
  try {
    const probe = new EventEmitter() as EventEmitter & { _writableState: { corked: number } }
    probe._writableState = { corked: 0 }
    new ServerResponse(new IncomingMessage(null as never)).assignSocket(probe as never)
    const [listener] = probe.listeners('close')
    return probe.listenerCount('close') === 1 ? (listener as (this: StreamSocket) => void) : undefined
  } catch {
    return undefined
  }
})()

/**
 * Node's 'close' listener and then ours, as one listener: the socket keeps one function
 * where two need an array (about 64 bytes a held stream). They run in the same order. When
 * the response finishes, Node's `detachSocket` finds no listener of its own to remove:
 * Node's then does nothing when it runs (the socket has no response by then: it checks),
 * and ours runs as before.
 */
function onSocketCloseAfterNode(this: StreamSocket): void {
  nodeOnSocketClose!.call(this)
  onSocketClose.call(this)
}

function onSocketTimeout(this: StreamSocket): void {
  const req = this.request
  const reqTimeout = req !== null && !req.complete && req.emit('timeout', this)
  const resTimeout = this._httpMessage?.emit('timeout', this) === true
  const serverTimeout = this.server.emit('timeout', this)
  if (!reqTimeout && !resTimeout && !serverTimeout) this.destroy()
}

function ignore(): void {}

function emitClose(res: NodeResponse): void {
  if (res._closed) return
  res.destroyed = true
  res._closed = true
  res.emit('close')
}

/** As Node's server's `resOnFinish`: the request is drained, the response detached and closed, the stream ended. */
function onResponseFinish(this: NodeResponse): void {
  const socket = this.socket as unknown as StreamSocket
  const req = socket.request!
  socket.responded = true
  releaseHeld(this)
  if (kDetachAbortSignal) (req as unknown as Record<symbol, () => void>)[kDetachAbortSignal]!()
  if (!req._consuming && !(req as unknown as { _readableState: { resumeScheduled: boolean } })._readableState.resumeScheduled) req._dump()
  this.detachSocket(socket)
  process.nextTick(emitClose, this)
  socket.destroySoon()
}

function writeContinue(this: NodeResponse, callback?: () => void): void {
  directStreamOf(this)?.respond(100, {}, callback ? () => callback() : undefined)
}

/** Node's `writeProcessing()` writes `HTTP/1.1 102 Processing` to its socket, which here is the body: a 102 HEADERS frame instead. */
function writeProcessing(this: NodeResponse, callback?: () => void): void {
  directStreamOf(this)?.respond(102, {}, callback ? () => callback() : undefined)
}

function addTrailers(this: NodeResponse, headers: OutgoingHttpHeaders | ReadonlyArray<[string, string]>): void {
  trailersAtEnd(this.spdyStream as object, headers as Parameters<typeof trailersAtEnd>[1])
}

function makeRequest(stream: SpdyStream, socket: StreamSocket, options: DirectOptions): NodeRequest {
  const req = new DirectRequest(socket) as unknown as NodeRequest
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  req.httpVersion = '1.1'
  req.method = stream.method
  req.url = stream.path
  ;(req as unknown as { upgrade: boolean }).upgrade = false
  const forwarded = options.forwardedFor ? (stream.connection as unknown as { getXForwardedFor(): string | null }).getXForwardedFor() : null
  const raw = rawHeadersOf(stream.headers as Record<string, unknown>, forwarded)
  req._addHeaderLines(raw, raw.length)
  markBodyOfUnknownLength(req.headers as Record<string, unknown>, mayHaveBody(stream))
  req.isSpdy = true
  req.spdyVersion = 4
  req.spdyStream = stream
  return req
}

/** Node's ServerResponse takes options since Node 18 (`highWaterMark`, `rejectNonStandardBodyWrites`). */
const Response = DirectResponse as unknown as new (req: IncomingMessage, options: object) => NodeResponse

function makeResponse(req: NodeRequest, stream: SpdyStream, socket: StreamSocket, server: NetServer, options: DirectOptions): NodeResponse {
  const http = server as NetServer & { keepAliveTimeout?: number; rejectNonStandardBodyWrites?: boolean }
  const res = new Response(req, { highWaterMark: socket.writableHighWaterMark, rejectNonStandardBodyWrites: http.rejectNonStandardBodyWrites })
  res._keepAliveTimeout = http.keepAliveTimeout ?? 0
  res.shouldKeepAlive = true
  res.isSpdy = true
  res.spdyVersion = 4
  res.spdyStream = stream
  res._req = req
  res.writeHead = options.writeHead as never
  res.end = options.end as never
  res.push = options.push
  res.writeEarlyHints = options.writeEarlyHints as never
  res.writeContinue = writeContinue
  res.writeProcessing = writeProcessing
  res.addTrailers = addTrailers as never
  res.assignSocket(socket)
  return res
}

/** What Node's server does per request around the app: finish, reset, drain, timeout. */
function wire(res: NodeResponse, socket: StreamSocket, stream: SpdyStream): void {
  ;(stream as Direct)._spdyState.directSocket = socket
  stream.on('data', onStreamData)
  const events = (stream as unknown as { _events: Record<string, unknown> })._events
  const spdyOnEnd = (stream as unknown as { _onEnd?: unknown })._onEnd
  if (typeof spdyOnEnd === 'function' && events['end'] === spdyOnEnd) events['end'] = onStreamEndAfterSpdy
  else stream.on('end', onStreamEnd)
  stream.on('headers', onStreamTrailers)
  stream.on('close', onStreamClose)
  stream.on('error', onStreamError)
  stream.on('drain', onStreamDrain)
  const socketEvents = (socket as unknown as { _events: Record<string, unknown> })._events
  if (nodeOnSocketClose !== undefined && socketEvents['close'] === nodeOnSocketClose) socketEvents['close'] = onSocketCloseAfterNode
  else socket.on('close', onSocketClose)
  socket.on('error', ignore)
  socket.on('timeout', onSocketTimeout)
  res.on('finish', onResponseFinish)
  compactIfHeld(stream, socket, res)
}

/** As Node's server handles `Expect` on an HTTP/1.1 request: 100-continue, or 417. */
function emitRequest(server: NetServer, req: NodeRequest, res: NodeResponse): void {
  const http = server as NetServer & { requireHostHeader?: boolean }
  if (http.requireHostHeader !== false && req.headers.host === undefined) {
    res.writeHead(400)
    res.end()
    return
  }
  const expect = req.headers.expect
  if (expect === undefined) {
    server.emit('request', req, res)
  } else if (/(?:^|\W)100-continue(?:$|\W)/i.test(expect)) {
    res._expect_continue = true
    if (server.listenerCount('checkContinue') > 0) {
      server.emit('checkContinue', req, res)
    } else {
      res.writeContinue()
      server.emit('request', req, res)
    }
  } else if (server.listenerCount('checkExpectation') > 0) {
    server.emit('checkExpectation', req, res)
  } else {
    res.writeHead(417)
    res.end()
  }
}

/**
 * Replacement for spdy's `Server#_onStream` on HTTP/2 connections: the stream becomes
 * `req`/`res` and the server's 'request' event, without a per-stream socket.
 */
export function directRequests(onStream: (this: unknown, stream: SpdyStream) => void, options: DirectOptions) {
  return function onStreamDirect(this: NetServer & { _spdyState: { options: Record<string, unknown> } }, stream: SpdyStream): void {
    if ((stream.connection as unknown as { getVersion(): number }).getVersion() !== 4) {
      onStream.call(this, stream)
      return
    }
    const socket = new StreamSocket(stream, this)
    const settings = this._spdyState.options['x-forwarded-for'] ? { ...options, forwardedFor: true } : options
    const req = makeRequest(stream, socket, settings)
    socket.request = req
    const res = makeResponse(req, stream, socket, this, settings)
    wire(res, socket, stream)
    emitRequest(this, req, res)
  }
}

/** spdy's `Server#emit` decorates requests made through its socket; direct ones come decorated. */
export function emitDirectAsIs(emit: (this: EventEmitter, event: string | symbol, ...args: unknown[]) => boolean) {
  return function emitPassingDirectRequests(this: EventEmitter, event: string | symbol, ...args: unknown[]): boolean {
    const req = args[0] as { socket?: unknown } | undefined
    if ((event === 'request' || event === 'checkContinue' || event === 'checkExpectation') && req?.socket instanceof StreamSocket) {
      return EventEmitter.prototype.emit.call(this, event, ...args)
    }
    return emit.call(this, event, ...args)
  }
}
