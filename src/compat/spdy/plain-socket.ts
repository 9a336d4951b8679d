/**
 * Per-stream sockets that are plain `net.Socket`s.
 *
 * spdy gives each stream of a TLS server its own `spdy.Socket`, whose writes
 * socket.ts fixes. A plain server (`spdy: { plain: true }`, h2c, as behind a
 * TLS-terminating load balancer) and spdy's client agent use a bare `net.Socket`
 * instead, so their writes still went through handle-thing: uncaught
 * `Cannot set properties of null (setting 'async')` on the first write on Node 24+,
 * and the write-then-end hang and node-spdy #380 on every version. Every per-stream
 * socket now writes to its stream the same way.
 */
import type { SpdyHandle, SpdySocket } from './internals.js'
import { socketFinal, socketWrite, socketWritev } from './socket.js'

type AssignSocket = (this: SpdyHandle, socket: SpdySocket, options?: unknown) => void

/** Wraps spdy's `Handle#assignSocket`, which runs for every per-stream socket, server and client. */
export function streamWritesOnEverySocket(assignSocket: AssignSocket): AssignSocket {
  return function assignSocketWithStreamWrites(this: SpdyHandle, socket: SpdySocket, options?: unknown): void {
    const writable = socket as unknown as Record<string, unknown>
    if (writable['_write'] !== socketWrite) {
      writable['_write'] = socketWrite
      writable['_writev'] = socketWritev
      writable['_final'] = socketFinal
    }
    assignSocket.call(this, socket, options)
  }
}
