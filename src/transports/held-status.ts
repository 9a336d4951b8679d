/**
 * The status for a response whose stream is held open with no body. spdy (and
 * HTTP/1.1) send a 204 without ending the stream; Node's http2 ends the stream of
 * every 204/205/304 response at once, so there the held response is a 200.
 */
import type { ServerResponse } from 'node:http'
import { Http2ServerResponse } from 'node:http2'

export function heldStatus(res: ServerResponse | Http2ServerResponse): 200 | 204 {
  return res instanceof Http2ServerResponse ? 200 : 204
}
