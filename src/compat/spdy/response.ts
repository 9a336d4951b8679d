/**
 * Response fixes: headers on Node 24+, `'finish'` / `end(cb)` on every version, and Date.
 *
 * - spdy's `writeHead` reads `this._headers`, which Node 24 removed (and which prints
 *   DEP0066 before that): every header set with `setHeader` was dropped and only
 *   `:status` went out. Ours reads `getHeaders()`.
 * - spdy's `end` set `finished = true` before calling Node's own `end`, which then
 *   returned early: `'finish'` never fired and `end(cb)` never called back, so
 *   loggers, metrics and anything built on on-finished never ran. Ours lets Node's
 *   `end` run in full and marks the response as the last one on its per-stream
 *   socket, so Node's server ends that socket (END_STREAM) after `'finish'`.
 */
import { endsWithThisWrite } from './end-with-data.js'
import { responseHeaders } from './direct-hpack.js'
import { ServerResponse, type OutgoingHttpHeaders, type OutgoingHttpHeader } from 'node:http'
import type { SpdyResponse, SpdySocket, SpdyStream } from './internals.js'
import { directStreamOf, StreamSocket } from './direct-requests.js'
import { sendNextWriteAtOnce } from './batched-writes.js'

/** The stream a response writes to: its StreamSocket's, or spdy's per-stream socket's handle's. */
function streamOf(res: SpdyResponse): SpdyStream | undefined {
  if (res.socket instanceof StreamSocket) return directStreamOf(res)
  return (res.socket as SpdySocket | null)?._handle?._spdyState.stream ?? undefined
}

let dateSecond = -1
let dateValue = ''

/** The current time as an HTTP date, made once a second (Node's own `utcDate` is internal). */
export function utcDate(): string {
  const second = Math.floor(Date.now() / 1000)
  if (second !== dateSecond) {
    dateSecond = second
    dateValue = new Date(second * 1000).toUTCString()
  }
  return dateValue
}

function headersSentError(): Error {
  const err = new Error('Cannot write headers after they are sent to the client') as Error & { code: string }
  err.code = 'ERR_HTTP_HEADERS_SENT'
  return err
}

/** Node's errors for writeHead's arguments: `ERR_INVALID_ARG_VALUE` (a TypeError), `ERR_HTTP_INVALID_STATUS_CODE` (a RangeError). */
function invalidArgument(value: unknown, code: 'ERR_INVALID_ARG_VALUE' | 'ERR_HTTP_INVALID_STATUS_CODE'): Error {
  const err = (
    code === 'ERR_HTTP_INVALID_STATUS_CODE'
      ? new RangeError(`Invalid status code: ${String(value)}`)
      : new TypeError(`The argument 'headers' is invalid. Received ${JSON.stringify(value)?.slice(0, 100)}`)
  ) as Error & { code: string }
  err.code = code
  return err
}

/** writeHead's headers, as Node's writeHead and `_storeHeader` take them: an object, flat `[name, value, ...]`, or `[[name, value], ...]` (appended). */
function applyHeaders(
  res: ServerResponse,
  obj: OutgoingHttpHeaders | OutgoingHttpHeader[] | ReadonlyArray<readonly [string, OutgoingHttpHeader]> | undefined,
): void {
  if (!obj) return
  if (Array.isArray(obj)) {
    if (obj.length > 0 && Array.isArray(obj[0])) {
      // writeHead(status, [['name', 'value'], ['name', 'value']]): each pair added, a name twice kept twice.
      for (const pair of obj as unknown as ReadonlyArray<readonly [string, OutgoingHttpHeader]>)
        if (pair[0]) res.appendHeader(pair[0], pair[1] as string | readonly string[])
      return
    }
    if (obj.length % 2 !== 0) throw invalidArgument(obj, 'ERR_INVALID_ARG_VALUE')
    // writeHead(status, ['name', 'value', 'name', 'value'])
    for (let i = 0; i + 1 < obj.length; i += 2) if (obj[i]) res.setHeader(String(obj[i]), obj[i + 1] as OutgoingHttpHeader)
    return
  }
  for (const name of Object.keys(obj)) {
    const value = (obj as OutgoingHttpHeaders)[name]
    if (name && value !== undefined) res.setHeader(name, value)
  }
}

/** Replacement for spdy's `response.writeHead`, installed on every spdy response. */
export function spdyWriteHead(
  this: SpdyResponse,
  statusCode: number,
  reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
  obj?: OutgoingHttpHeaders | OutgoingHttpHeader[],
): SpdyResponse {
  if (this._header) throw headersSentError()
  const given = statusCode
  statusCode |= 0
  if (statusCode < 100 || statusCode > 999) {
    throw invalidArgument(given, 'ERR_HTTP_INVALID_STATUS_CODE')
  }
  if (typeof reason === 'string') {
    this.statusMessage = reason
  } else {
    obj = reason
  }
  applyHeaders(this, obj)
  // RFC 9110 §6.6.1: an origin server with a clock sends Date; Node's HTTP/1.1 writes it in
  // `_storeHeader`, node:http2 in `respond`, and spdy's writeHead did neither.
  if (this.sendDate && !this.hasHeader('date')) this.setHeader('date', utcDate())
  this.statusCode = statusCode
  if (statusCode === 204 || statusCode === 304 || (statusCode >= 100 && statusCode <= 199)) {
    this._hasBody = false
  }
  // One response per HTTP/2 stream: Node's server ends the per-stream socket after 'finish'.
  this._last = true
  this._header = true
  this._headerSent = true

  const stream = streamOf(this)
  if (stream) {
    // HTTP/2's framer reads the response's own header table (direct-hpack.ts); SPDY/3's takes a copy.
    const http2 = (stream.connection._spdyState as { protocol?: { name: string } | null }).protocol?.name === 'h2'
    stream.respond(statusCode, http2 ? responseHeaders(this) : this.getHeaders())
  }
  return this
}

type EndArgs = [chunk?: unknown, encoding?: unknown, callback?: unknown]
const nodeEnd = ServerResponse.prototype.end as (this: ServerResponse, ...args: EndArgs) => ServerResponse

/** Replacement for spdy's `response.end`: Node's own `end`, so 'finish' and `end(cb)` work. */
export function spdyEnd(this: SpdyResponse, ...args: EndArgs): SpdyResponse {
  const socket = this.socket as SpdySocket | StreamSocket | null
  // The per-stream socket is about to end: spdy must then send END_STREAM, not RST_STREAM.
  if (socket instanceof StreamSocket) {
    socket.ending = true
    // What `end()` writes now is the stream's last: its last DATA frame may carry END_STREAM.
    endsWithThisWrite(socket.stream)
  } else if (socket?._handle) socket._handle._spdyState.ending = true
  nodeEnd.apply(this, args)
  return this
}

/**
 * Replacement for `res.writeEarlyHints` on spdy responses. Node's own writes the
 * HTTP/1.1 text `HTTP/1.1 103 Early Hints` through the per-stream socket, which spdy
 * sends as the first DATA frame: clients reset the stream. An HTTP/2 103 is a HEADERS
 * frame with `:status 103`, which the spdy-transport stream sends with `respond(103)`.
 */
export function spdyWriteEarlyHints(this: SpdyResponse, hints: Record<string, string | readonly string[]>, callback?: () => void): void {
  const stream = streamOf(this)
  if (!stream || this._header) {
    if (callback) process.nextTick(callback)
    return
  }
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(hints)) {
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
  }
  stream.respond(103, headers, () => callback?.())
  // The 103's HEADERS frame leaves now, not with the writes of the rest of this turn.
  sendNextWriteAtOnce(stream.connection.socket)
}
