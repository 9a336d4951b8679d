/**
 * How spdy (spdy-transport, through the compatibility layer) does each step of a push.
 */
import type { ServerResponse } from 'node:http'
import { writableEnded, writableFinished, type SpdyRequest, type SpdyResponse, type SpdyStream } from '../../compat/spdy/internals.js'
import type { PushTransport } from '../adapted-pusher.js'
import { utcDate } from '../../compat/spdy/response.js'

/** `headers` with a Date, unless they have one (in any case). */
function withDate<T extends Record<string, unknown>>(headers: T): T {
  for (const name of Object.keys(headers)) if (name.length === 4 && name.toLowerCase() === 'date') return headers
  return { ...headers, date: utcDate() }
}

export const spdyPush: PushTransport<SpdyStream, SpdyStream> = {
  parentOpen: (stream) => !stream._spdyState.aborted && !writableEnded(stream) && stream.connection._spdyState.goaway === false,
  // null until the peer's SETTINGS arrive, then true or false.
  peerAcceptsPush: (stream) => stream.connection._spdyState.framer.pushEnabled === true,
  remoteWindow: (stream) => stream.connection._spdyState.window.send.getCurrent(),
  connection: (stream) => stream.connection,
  promise(parent, { path, authority, headers }, callback) {
    const promised = parent.pushPromise(
      // PUSH_PROMISE only: the response HEADERS go out with respond().
      { path, method: 'GET', status: 200, host: authority, headers, response: false },
      (err, stream) => callback(err, stream ?? promised),
    ) as SpdyStream | undefined
  },
  // RFC 9110 §6.6.1: Date on every pushed response, as node:http2's respond() adds it.
  respond: (stream, status, headers) => stream.respond(status, withDate(headers)),
  cancel: (stream) => stream.abort('CANCEL'),
  closed: (stream) => stream._spdyState.aborted || writableEnded(stream),
  sent: (stream, err) => writableFinished(stream) && !stream._spdyState.aborted && err === undefined,
  resetReason: () => 'stream closed',
  id: (stream) => stream.id,
}

/** The spdy stream a response is served on, with its request's headers and authority; undefined off spdy. */
export function spdyParent(res: ServerResponse): { stream: SpdyStream; headers: SpdyRequest['headers']; authority: string } | undefined {
  const stream = (res as SpdyResponse).spdyStream
  if (!stream || typeof stream.pushPromise !== 'function') return undefined
  const req = res.req as SpdyRequest
  return { stream, headers: req.headers, authority: req.headers.host ?? stream.headers[':authority']?.toString() ?? '' }
}
