/**
 * Idle HTTP/2 connections: one with no open request stream for `idleTimeout` ms is
 * sent GOAWAY(NO_ERROR) and closed (once its pushed streams, if any, are done). The
 * clock starts when the connection is accepted and again each time its last open
 * request stream closes; a new request stops it. A held stream is an open stream: its
 * connection is not idle.
 */
import type { Http2Session, ServerHttp2Stream } from 'node:http2'
import createDebug from 'debug'
import type { SpdyConnection, SpdyStream } from '../compat/spdy/internals.js'
import { sharedCloseListener } from '../compat/spdy/held-streams.js'

const debug = createDebug('express-h2-push:server')

/**
 * Counts a connection's open request streams; runs `onIdle` once after `ms` with none.
 * The timer is not re-set per stream: armed when the count first drops to 0, it looks at
 * the time the connection last became idle when it fires, and waits the rest if needed.
 */
class IdleClock {
  #open = 0
  #timer: NodeJS.Timeout | undefined
  #idleSince = performance.now()
  #stopped = false

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {
    this.#arm(ms)
  }

  opened(): void {
    this.#open++
  }

  closed(): void {
    this.#open--
    if (this.#open !== 0) return
    this.#idleSince = performance.now()
    if (this.#timer === undefined) this.#arm(this.ms)
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #arm(delay: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => this.#fire(), delay)
  }

  #fire(): void {
    this.#timer = undefined
    // Busy: armed again when its last stream closes.
    if (this.#open > 0) return
    const left = this.#idleSince + this.ms - performance.now()
    if (left > 0) {
      this.#arm(left)
      return
    }
    this.stop()
    this.onIdle()
  }
}

/** node:http2: GOAWAY and close a session that stays `ms` without an open request. */
export function closeIdleHttp2Session(session: Http2Session, ms: number): void {
  const clock = new IdleClock(ms, () => {
    if (session.closed || session.destroyed) return
    debug('idle for %d ms: GOAWAY and close', ms)
    session.close()
  })
  const closed = (): void => clock.closed()
  session.on('stream', (stream: ServerHttp2Stream) => {
    clock.opened()
    stream.on('close', closed)
  })
  session.once('close', () => clock.stop())
}

const clocks = new WeakMap<SpdyConnection, IdleClock>()
const clocked = Symbol('open on the idle clock')
type Clocked = SpdyStream & { [clocked]?: boolean }

/** A stream's 'close' listener, shared by every stream (no closure kept per held stream). */
const streamClosed = sharedCloseListener(function streamClosed(this: Clocked): void {
  if (!this[clocked]) return
  this[clocked] = false
  clocks.get(this.connection)?.closed()
})

/** spdy: the same for a spdy-transport connection. */
export function closeIdleSpdyConnection(connection: SpdyConnection, ms: number): void {
  const clock = new IdleClock(ms, () => {
    const state = connection._spdyState
    if (state.goaway !== false) return
    debug('idle for %d ms: GOAWAY and close', ms)
    // With no stream open, spdy-transport ends the socket once the GOAWAY is written.
    connection._goaway({ lastId: state.stream.lastId.received, code: 'OK', send: true })
  })
  clocks.set(connection, clock)
  connection.on('stream', (stream: Clocked) => {
    clock.opened()
    stream[clocked] = true
    stream.on('close', streamClosed)
  })
  connection.once('close', () => clock.stop())
  connection.socket.once('close', () => clock.stop())
}
