/**
 * node:http2: HTTP/2 requests reach the app on the next turn of the event loop, and one
 * whose stream was reset meanwhile never does (spdy's streams get the same in the
 * compatibility layer, src/compat/spdy/deferred-streams.ts).
 *
 * A rapid-reset client (CVE-2023-44487) sends HEADERS and RST_STREAM for stream after
 * stream in one write. nghttp2 parses a whole read at once, and Node handed each request
 * to the app as its HEADERS was parsed: up to the reset limit (1 000) requests ran through
 * Express in one go, each already cancelled, while every other client waited (1.6–2.7 s). Deferred to `setImmediate`, the requests of a
 * read are handed over after the whole read is parsed, each only if its stream is still
 * open; other connections' I/O is served in between. HTTP/1.1 requests go at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

type Listener = (req: IncomingMessage, res: ServerResponse) => void

/**
 * `listener`, called on the next turn for HTTP/2 requests. `streamGone` says whether a
 * request's stream was reset or closed, or `null` for a request that has no stream (HTTP/1.1).
 */
export function dispatchUnlessReset(listener: Listener, streamGone: (req: IncomingMessage) => boolean | null): Listener {
  const dispatchIfOpen = (req: IncomingMessage, res: ServerResponse): void => {
    if (streamGone(req) === false) listener(req, res)
  }
  return function dispatchHttp2UnlessReset(req, res): void {
    if (streamGone(req) === null) return listener(req, res)
    setImmediate(dispatchIfOpen, req, res)
  }
}
