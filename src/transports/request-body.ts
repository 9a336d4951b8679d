/**
 * HTTP/2 requests may carry a body without content-length (DATA frames up to
 * END_STREAM). Express's body parsers (type-is `hasBody`) look for content-length or
 * transfer-encoding and would skip such a body: mark it as one of unknown length, as
 * `transfer-encoding: chunked` says for HTTP/1.1. Only the app sees this header.
 */
export function markBodyOfUnknownLength(headers: Record<string, unknown>, hasBody: boolean): void {
  if (hasBody && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
    headers['transfer-encoding'] = 'chunked'
  }
}
