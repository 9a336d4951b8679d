/**
 * spdy's client (`spdy.createAgent`).
 *
 * The agent opens each stream with `headers: req._headers`. Node 24 removed
 * `OutgoingMessage#_headers` (Node 20/22 print DEP0066 for it): every request went out
 * with no headers but the pseudo-headers, so a server that echoes them answered with
 * none either. Ours reads `getHeaders()`, the supported way.
 */
import type { ClientRequest, IncomingHttpHeaders } from 'node:http'
import type { SpdyAgent, SpdyHandle, SpdyStream } from './internals.js'

/** Replacement for spdy's `Agent#_createStream` (on both the TLS and the plain agent). */
export function agentCreateStream(this: SpdyAgent, req: ClientRequest, handle: SpdyHandle): SpdyStream {
  const state = this._spdyState
  return state.connection.reserveStream(
    { method: req.method, path: req.path, headers: req.getHeaders(), host: state.host },
    (err: Error | null, stream: SpdyStream) => {
      if (err) {
        this.emit('error', err)
        return
      }
      stream.on('response', (status: number, headers: IncomingHttpHeaders) => handle.emitResponse(status, headers))
    },
  )
}
