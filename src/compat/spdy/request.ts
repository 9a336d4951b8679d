/**
 * The request the app sees: the headers the client sent, and no other.
 *
 * A request body without content-length must still reach Express's body parsers
 * (see markBodyOfUnknownLength). The mark used to go into the head that spdy feeds
 * Node's HTTP/1 parser, so it became an ordinary header: `req.headers` showed
 * `transfer-encoding: chunked` to the app, even for a GET whose HEADERS frame merely
 * lacked END_STREAM. spdy's parser feeds the body to the request whatever the head
 * says, so the head now carries the client's headers only, and the mark is put on
 * `req.headers` as a non-enumerable property once the request exists.
 */
import type { IncomingMessage } from 'node:http'
import type { SpdyHandle } from './internals.js'
import { mayHaveBody } from './direct-requests.js'
import { markBodyOfUnknownLength } from '../request-body.js'

/** Wraps spdy's `Handle#assignRequest`, which runs for each server request before the app sees it. */
export function markBodyOnRequest(assignRequest: (this: SpdyHandle, req: IncomingMessage) => void) {
  return function assignRequestMarkingBody(this: SpdyHandle, req: IncomingMessage): void {
    const stream = this._spdyState.stream
    // On a client handle, `req` is the response: nothing to mark.
    if (stream?.connection._spdyState.isServer) {
      markBodyOfUnknownLength(req.headers as Record<string, unknown>, mayHaveBody(stream))
    }
    assignRequest.call(this, req)
  }
}
