/**
 * 103 Early Hints (RFC 8297) for the Link values the push middleware could not push:
 * browsers act on them (Chrome: HTTP/2 navigations, first 103 only). Over HTTP/2 a
 * 103 is a HEADERS frame with `:status 103` on the request stream (spdy: through the
 * compatibility layer's `writeEarlyHints`; node:http2: Node's). Over HTTP/1.1 some
 * clients and proxies mishandle 1xx responses, so a 103 is sent there only when asked
 * for (`'always'`).
 */
import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import { isNodeHttp2Response } from './http2/bridge.js'
import type { SpdyResponse } from '../compat/spdy/internals.js'

/** `true`: 103 over HTTP/2; `'always'`: also over HTTP/1.1; `false`: never. */
export type EarlyHintsMode = boolean | 'always'

/** Whether `res` goes out over HTTP/2 (spdy or node:http2). */
export function isHttp2Response(res: ServerResponse | Http2ServerResponse): boolean {
  return isNodeHttp2Response(res) || (res as SpdyResponse).spdyStream !== undefined
}

/** Sends one 103 with these Link values; answers whether it did. Never throws. */
export function sendEarlyHints(res: ServerResponse | Http2ServerResponse, links: readonly string[], mode: EarlyHintsMode): boolean {
  if (mode === false || res.headersSent) return false
  if (mode !== 'always' && !isHttp2Response(res)) return false
  if (typeof res.writeEarlyHints !== 'function') return false
  try {
    // An array: Node validates a string as one single link.
    // spdy's leaves at once, not with the writes of the rest of this turn (compat/spdy/response.ts).
    res.writeEarlyHints({ link: [...links] })
    return true
  } catch {
    return false
  }
}
