/**
 * HTTP/2 requests may carry a body without content-length (DATA frames up to
 * END_STREAM). Express's body parsers (type-is `hasBody`) look only at
 * `req.headers['transfer-encoding']` and `req.headers['content-length']`, and would
 * skip such a body. So for one, `headers['transfer-encoding']` reads `chunked`, as it
 * would for HTTP/1.1; but as a non-enumerable property: the client did not send that
 * header (HTTP/2 forbids it), so it is in no listing or copy of the headers
 * (`Object.keys`, spread, `JSON.stringify`, `rawHeaders`), and an app that forwards
 * `req.headers` does not forward it.
 */
export function markBodyOfUnknownLength(headers: Record<string, unknown>, hasBody: boolean): void {
  if (hasBody && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
    Object.defineProperty(headers, 'transfer-encoding', { value: 'chunked', enumerable: false, writable: true, configurable: true })
  }
}
