/**
 * Transport detection, in one place: which transport serves a response, and its Pusher.
 */
import type { ServerResponse } from 'node:http'
import type { Pusher } from './pusher.js'
import { transportPusher } from './adapted-pusher.js'
import { spdyParent, spdyPush } from './spdy/push-adapter.js'
import { http2Parent, http2Push } from './http2/push-adapter.js'

/**
 * Like Go's `w.(http.Pusher)`: a Pusher when this response can push now (HTTP/2,
 * the peer accepts push, the stream is open, no GOAWAY), else `undefined`.
 *
 * @example
 * ```ts
 * app.get('/', async (req, res) => {
 *   const pusher = getPusher(res)
 *   if (pusher) {
 *     const stream = await pusher.push('/app.css')
 *     void stream.respond(200, { 'content-type': 'text/css' }, css)
 *   }
 *   res.send(html)
 * })
 * ```
 */
export function getPusher(res: ServerResponse): Pusher | undefined {
  const spdy = spdyParent(res)
  if (spdy) return transportPusher(spdyPush, spdy.stream, spdy.headers, spdy.authority)
  const http2 = http2Parent(res)
  if (http2) return transportPusher(http2Push, http2.stream, http2.headers, http2.authority)
  return undefined
}
