/**
 * The parts of spdy / spdy-transport / handle-thing internals that the
 * compatibility layer touches, typed as narrowly as we use them.
 * (These packages ship no types of their own for their internals.)
 */
import type { Duplex } from 'node:stream'
import type { EventEmitter } from 'node:events'
import type { ServerResponse, IncomingMessage, OutgoingHttpHeaders, IncomingHttpHeaders } from 'node:http'
import type { Socket, Server as NetServer } from 'node:net'
import type { TLSSocket } from 'node:tls'

export interface SpdyFramer extends EventEmitter {
  /** null until the peer's first SETTINGS, then whether the peer accepts PUSH_PROMISE. */
  pushEnabled: boolean | null
  /** The connection's flow-control window (DATA frames wait on its send side). */
  window?: { send: unknown } | undefined
  enablePush(enable: boolean): void
  goawayFrame(frame: { lastId: number; code: string; extra?: string }, callback: () => void): void
  rstFrame(frame: { id: number; code: string }, callback?: () => void): void
}

export interface SpdyConnectionState {
  isServer: boolean
  goaway: number | false
  framer: SpdyFramer
  parser: { kill(): void }
  window: { send: { getCurrent(): number } }
  stream: {
    map: Record<string, SpdyStream>
    count: number
    /** The id of the next stream this side opens. */
    nextId: number
    lastId: { both: number; received: number }
  }
}

export interface SpdyConnection extends EventEmitter {
  _spdyState: SpdyConnectionState
  socket: TLSSocket | Socket
  _handleFrame(frame: SpdyFrame): void
  _handleSettings(settings: Record<string, number | undefined>): void
  _removeStream(stream: SpdyStream): void
  _goaway(params: GoawayParams): void
  _onStreamDrain(err?: Error): void
  _isGoaway(id: number): boolean
  end(callback?: () => void): void
}

export interface GoawayParams {
  lastId: number
  code: string
  extra?: string
  send: boolean
}

export interface SpdyFrame {
  type: string
  id?: number
  [key: string]: unknown
}

export interface SpdyPushUri {
  path: string
  method: string
  status: number
  host: string
  headers: IncomingHttpHeaders
  /** `false`: send the PUSH_PROMISE only; the push stream's `respond()` sends its HEADERS. */
  response: OutgoingHttpHeaders | false
  priority?: unknown
}

/**
 * spdy-transport streams are readable-stream@2 Duplexes: no `writableEnded` /
 * `writableFinished` getters, so read their state directly.
 */
export function writableEnded(stream: SpdyStream): boolean {
  return stream._writableState.ended
}

export function writableFinished(stream: SpdyStream): boolean {
  return stream._writableState.finished
}

export interface SpdyStream extends Duplex {
  _writableState: { ended: boolean; finished: boolean }
  id: number
  path: string
  method: string
  headers: IncomingHttpHeaders
  connection: SpdyConnection
  parent: SpdyStream | null
  _spdyState: { aborted: boolean; framer: SpdyFramer; writable: boolean }
  respond(status: number, headers: OutgoingHttpHeaders, callback?: (err?: Error | null) => void): void
  abort(code?: string | ((err: Error | null) => void), callback?: (err: Error | null) => void): void
  pushPromise(uri: SpdyPushUri, callback: (err: Error | null, push: SpdyStream) => void): SpdyStream
  _checkEnded(callback?: (err: Error) => void): boolean
  setTimeout(delay: number, callback?: () => void): void
  /** Holds writes (in order) until as many `_hardUncork()` calls. */
  _hardCork(): void
  _hardUncork(): void
}

export interface SpdyHandle extends EventEmitter {
  /** `stream` is null on a client handle until its request needs one. */
  _spdyState: { stream: SpdyStream | null; socket: SpdySocket | null; ending: boolean }
  emitRequest(): void
  /** Completes the per-stream socket's handle close (net.Socket#destroy waits for it). */
  _closeCallback(callback: (err?: Error | null) => void): void
  emitResponse(status: number, headers: IncomingHttpHeaders): void
  assignSocket(socket: SpdySocket, options?: unknown): void
  assignRequest(req: IncomingMessage): void
}

export interface SpdyAgent extends EventEmitter {
  _spdyState: {
    host: string | undefined
    connection: {
      reserveStream(
        uri: { method: string; path: string; headers: OutgoingHttpHeaders; host: string | undefined },
        callback: (err: Error | null, stream: SpdyStream) => void,
      ): SpdyStream
    }
  }
}

export interface SpdySocket extends Socket {
  _handle: SpdyHandle | null
  parser?: { remove?: () => void } | null
  server?: NetServer
}

export interface SpdyResponse extends ServerResponse {
  spdyStream?: SpdyStream
  _header: unknown
  _headerSent: boolean
  _hasBody: boolean
  _last: boolean
  push?: unknown
}

export interface SpdyRequest extends IncomingMessage {
  spdyStream?: SpdyStream
  isSpdy?: boolean
}

/** The shape of the `spdy` module's exports that the layer patches. */
export interface SpdyModule {
  createServer: (...args: unknown[]) => unknown
  Socket: { prototype: Record<string, unknown> }
  handle: { prototype: SpdyHandle & Record<string, unknown> }
  response: Record<string, unknown>
  server: { Server: { prototype: Record<string, unknown> }; create: (...args: unknown[]) => unknown }
  agent: {
    Agent: { prototype: Record<string, unknown> }
    PlainAgent: { prototype: Record<string, unknown> }
  }
}

export interface SpdyTransportModule {
  Connection: { prototype: SpdyConnection & Record<string, unknown> }
  /** A pair of flow-control windows (`recv`, `send`), each a `Side`. */
  Window: new (options: {
    id: number
    isServer: boolean
    recv: { size: number; max: number }
    send: { size: number; max: number }
  }) => { recv: object; send: object }
  Stream: { prototype: SpdyStream & Record<string, unknown> }
  protocol: {
    base: {
      /** The readable stream of frames the framer writes, piped to the socket. */
      Scheduler: { prototype: Record<string, unknown> }
    }
    http2: {
      /** The HTTP/2 Framer constructor (the module's export). */
      framer: {
        prototype: {
          dataFrame(this: SpdyFramer, frame: { id: number; fin?: boolean }, callback?: (err?: Error | null) => void): void
          /** Renders one frame; a DATA frame waits on the connection window before it is scheduled. */
          _frame(this: SpdyFramer, frame: { id: number; type: string }, body: (buffer: unknown) => void, callback?: unknown): unknown
        }
      }
    }
  }
}
