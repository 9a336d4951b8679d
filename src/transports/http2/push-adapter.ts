/**
 * How node:http2 (`Http2ServerResponse`, through the Express bridge) does each step of a push.
 */
import type { ServerResponse } from 'node:http'
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2'
import { isNodeHttp2Response } from './bridge.js'
import type { PushTransport } from '../adapted-pusher.js'
import { pushClosesAfterEndStream, requestClosesAfterEndStream } from './end-stream.js'

function open(stream: ServerHttp2Stream): boolean {
  const session = stream.session
  return session !== undefined && !session.closed && !session.destroyed && !stream.closed && !stream.destroyed && !stream.writableEnded
}

export const http2Push: PushTransport<ServerHttp2Stream, ServerHttp2Stream> = {
  parentOpen: open,
  peerAcceptsPush: (stream) => stream.session?.remoteSettings.enablePush === true && stream.pushAllowed,
  remoteWindow: (stream) => stream.session?.state.remoteWindowSize ?? 0,
  connection: (stream) => stream.session ?? stream,
  promise(parent, { path, authority, headers }, callback) {
    // The page and each push end with END_STREAM even when the pushes spend the client's window.
    if (parent.endAfterHeaders) requestClosesAfterEndStream(parent)
    parent.pushStream({ ...headers, ':method': 'GET', ':path': path, ...(authority ? { ':authority': authority } : {}) }, (err, pushed) => {
      if (!err) {
        pushed.on('error', () => {})
        pushClosesAfterEndStream(pushed)
      }
      callback(err, pushed)
    })
  },
  respond: (stream, status, headers) => stream.respond({ ':status': status, ...headers }),
  cancel(stream) {
    if (stream.destroyed) return
    // RST_STREAM CANCEL, then destroy: close() alone leaves a stream never responded to
    // half-open in Node (it waits for an end that needs HEADERS), and when that happens
    // after the parent's response, the session stops reading its socket and outlives the peer.
    if (!stream.closed) stream.close(0x8)
    stream.destroy()
  },
  closed: (stream) => stream.closed || stream.destroyed,
  sent: (stream) => stream.rstCode === 0 && stream.writableFinished,
  resetReason: (stream) => `RST_STREAM code ${stream.rstCode ?? 'none'}`,
  id: (stream) => stream.id ?? 0,
}

/** The node:http2 stream a response is served on, with its request's headers and authority; undefined off node:http2. */
export function http2Parent(res: ServerResponse): { stream: ServerHttp2Stream; headers: IncomingHttpHeaders; authority: string } | undefined {
  if (!isNodeHttp2Response(res)) return undefined
  const stream = res.stream
  if (!stream) return undefined
  const headers = res.req.headers
  return { stream, headers, authority: String(headers[':authority'] ?? headers.host ?? '') }
}
