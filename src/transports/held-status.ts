/**
 * The status for a response whose stream is held open with no body. spdy (and
 * HTTP/1.1) send a 204 without ending the stream; Node's http2 ends the stream of
 * every 204/205/304 response at once, so there the held response is a 200.
 */
import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import { isNodeHttp2Response } from './http2/bridge.js'

export function heldStatus(res: ServerResponse | Http2ServerResponse): 200 | 204 {
  return isNodeHttp2Response(res) ? 200 : 204
}
