/**
 * One host per HTTP/2 request. RFC 9113 §8.3.1: a request whose Host header names
 * another host than its `:authority` is malformed. Served anyway, the app would render
 * for one host (Express reads Host) while pushes are promised for the other. Such a
 * request is answered 400 before the app sees it; when the two agree (hostnames are
 * case-insensitive, `:443` is the default port of https), Host is set to `:authority`,
 * so the app, its pushes and their PUSH_PROMISEs all see one value.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import createDebug from 'debug'

const debug = createDebug('express-h2-push:server')

function canonicalHost(value: string): string {
  return value.toLowerCase().replace(/:443$/, '')
}

/**
 * Checks a request's `:authority` against its Host header: `true` when the request may
 * be served (Host then equals `:authority`), `false` when it was answered 400 here.
 */
export function oneAuthority(authority: string | string[] | undefined, headers: IncomingHttpHeaders, res: ServerResponse | Http2ServerResponse): boolean {
  if (typeof authority !== 'string') return true
  const host = headers.host as string | string[] | undefined
  // The usual case (spdy makes Host of :authority): nothing to compare or set.
  if (host === authority) return true
  if (host === undefined) {
    headers.host = authority
    return true
  }
  if (typeof host === 'string' && canonicalHost(host) === canonicalHost(authority)) {
    headers.host = authority
    return true
  }
  debug('400: Host %j differs from :authority %j', host, authority)
  const body = 'Bad Request: the Host header and :authority name different hosts\n'
  res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
  return false
}
