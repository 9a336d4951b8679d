/**
 * Our own SETTINGS_MAX_CONCURRENT_STREAMS, enforced.
 *
 * spdy-transport advertises `maxStreams` (its connection option) in its SETTINGS
 * frame and then never checks it (`TODO(indutny) handle stream limit` in
 * `_handleHeaders`): one connection could open as many request streams as it liked,
 * each one a fake socket, an HTTP/1 parser and a request running through the app.
 * RFC 9113 §5.1.2: a HEADERS frame that exceeds the advertised limit is a stream
 * error of type PROTOCOL_ERROR or REFUSED_STREAM. It is answered here with
 * RST_STREAM(REFUSED_STREAM) (the request was not processed: the client may retry it)
 * and never becomes a stream, so it never reaches the app. Its header block has been
 * decoded already, so HPACK state stays in step. Streams the peer opened count while
 * open or half-closed (until their 'close'); pushed streams are bounded by the peer's
 * own limit instead (push-concurrency.ts).
 *
 * Also records each connection by its socket, so that a server can find the
 * spdy-transport connection of a socket it accepted (`spdyConnectionOf`).
 */
import type { Socket } from 'node:net'
import type { SpdyConnection, SpdyFrame, SpdyStream, SpdyTransportModule } from './internals.js'
import { sharedCloseListener } from './held-streams.js'

interface LimitedState {
  isServer: boolean
  /** The `maxStreams` connection option: what the SETTINGS frame advertised (Infinity: nothing). */
  maxStreams: number
  stream: { lastId: { both: number; received: number } }
  framer: { rstFrame(frame: { id: number; code: string }): void }
}

type LimitedConnection = SpdyConnection & { _spdyState: SpdyConnection['_spdyState'] & LimitedState }
type HandleHeaders = (this: LimitedConnection, frame: SpdyFrame & { id: number }) => SpdyStream | undefined
type Create = (socket: Socket, options: Record<string, unknown>) => SpdyConnection

/** Open streams the peer started, by connection. */
const openRequests = new WeakMap<SpdyConnection, number>()
const connectionsBySocket = new WeakMap<object, SpdyConnection>()

/** The spdy-transport connection running over `socket` (a TLS socket the server accepted), if any. */
export function spdyConnectionOf(socket: object): SpdyConnection | undefined {
  return connectionsBySocket.get(socket)
}

const counted = Symbol('counted as open')
type Counted = SpdyStream & { [counted]?: boolean }

/** A stream's 'close' listener, shared by every stream (no closure kept per held stream). */
const countClosed = sharedCloseListener(function countClosed(this: Counted): void {
  if (!this[counted]) return
  this[counted] = false
  openRequests.set(this.connection, (openRequests.get(this.connection) ?? 1) - 1)
})

function countRequests(connection: SpdyConnection): void {
  openRequests.set(connection, 0)
  connection.on('stream', (stream: Counted) => {
    openRequests.set(connection, (openRequests.get(connection) ?? 0) + 1)
    stream[counted] = true
    stream.on('close', countClosed)
  })
}

function refuseOverLimit(handleHeaders: HandleHeaders): HandleHeaders {
  return function handleHeadersWithinLimit(this: LimitedConnection, frame) {
    const state = this._spdyState
    const open = openRequests.get(this)
    if (open !== undefined && open >= state.maxStreams && frame.id > state.stream.lastId.received && frame.id % 2 === 1 && !this._isGoaway(frame.id)) {
      // A used id: later frames for it are frames on a closed stream.
      state.stream.lastId.received = frame.id
      state.stream.lastId.both = Math.max(state.stream.lastId.both, frame.id)
      state.framer.rstFrame({ id: frame.id, code: 'REFUSED_STREAM' })
      return undefined
    }
    return handleHeaders.call(this, frame)
  }
}

/** Patches spdy-transport: server connections refuse request streams over their `maxStreams`. */
export function installStreamLimit(transport: SpdyTransportModule): void {
  const Connection = transport.Connection as unknown as { create: Create; prototype: Record<string, unknown> }
  const create = Connection.create
  Connection.create = function createCountingStreams(socket, options) {
    const connection = create.call(this, socket, options)
    connectionsBySocket.set(socket, connection)
    const state = (connection as LimitedConnection)._spdyState
    if (state.isServer && Number.isFinite(state.maxStreams)) countRequests(connection)
    return connection
  }
  Connection.prototype['_handleHeaders'] = refuseOverLimit(Connection.prototype['_handleHeaders'] as HandleHeaders)
}
