/**
 * The headers a pushed response inherits from its parent by default: origin-wide
 * security policy as helmet sets it. Not the rest: a header another middleware set for
 * this request (a reflected Access-Control-Allow-Origin, Allow-Credentials, Vary) is
 * about the parent, not the pushed file.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'

export const DEFAULT_INHERITED_HEADERS: readonly string[] = [
  'content-security-policy',
  'content-security-policy-report-only',
  'cross-origin-embedder-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'permissions-policy',
  'referrer-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-frame-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]

/** The headers of `res` set so far that a pushed response inherits (`names`, lower case). */
export function inheritedHeaders(res: ServerResponse, names: ReadonlySet<string>): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (names.has(name) && value !== undefined) headers[name] = value
  }
  return headers
}
