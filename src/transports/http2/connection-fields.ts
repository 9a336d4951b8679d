/**
 * Connection-specific response header fields dropped before node:http2 sends the response.
 *
 * RFC 9113 §8.2.2: an HTTP/2 message never carries `connection`, `keep-alive`,
 * `proxy-connection`, `transfer-encoding` or `upgrade`. Apps set them (a proxy copying an
 * upstream response's headers, `res.set('Connection', 'keep-alive')`), and Node's HTTP/1.1
 * server and spdy send such a response without them. node:http2's compatibility API accepts
 * them in `setHeader` and then throws `ERR_HTTP2_INVALID_CONNECTION_HEADERS` from inside
 * `res.end()`, where it escaped Express: Express's final handler ended the response again,
 * threw again, and the process died of an uncaught exception. Here `writeHead` (which
 * `write()` and `end()` call first) drops them, as spdy does, and the response goes out.
 */
import http2 from 'node:http2'

const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

type WriteHeadArgs = [statusCode: number, ...rest: unknown[]]
const h2WriteHead = http2.Http2ServerResponse.prototype.writeHead as (this: http2.Http2ServerResponse, ...args: WriteHeadArgs) => http2.Http2ServerResponse

const connectionField = (name: unknown): boolean => typeof name === 'string' && CONNECTION_FIELDS.has(name.toLowerCase())

/** writeHead's own headers without connection-specific fields: an object, flat `[name, value, ...]`, or `[[name, value], ...]`. */
function withoutConnectionFields(headers: unknown): unknown {
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) return (headers as unknown[][]).filter((pair) => !connectionField(pair[0]))
    const kept: unknown[] = []
    for (let i = 0; i < headers.length; i += 2) if (!connectionField(headers[i])) kept.push(headers[i], headers[i + 1])
    return kept
  }
  if (headers === null || typeof headers !== 'object') return headers
  const names = Object.keys(headers)
  if (!names.some(connectionField)) return headers
  const kept: Record<string, unknown> = {}
  for (const name of names) if (!connectionField(name)) kept[name] = (headers as Record<string, unknown>)[name]
  return kept
}

/** node:http2's `Http2ServerResponse#writeHead`, without the fields an HTTP/2 message never carries. */
export function writeHeadWithoutConnectionFields(this: http2.Http2ServerResponse, ...args: WriteHeadArgs): http2.Http2ServerResponse {
  if (!this.headersSent) {
    for (const name of CONNECTION_FIELDS) if (this.hasHeader(name)) this.removeHeader(name)
    const last = args.length - 1
    if (last > 0 && typeof args[last] === 'object') args[last] = withoutConnectionFields(args[last])
  }
  return h2WriteHead.apply(this, args)
}
