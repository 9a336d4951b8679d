/**
 * `Link: rel=preload` values (RFC 8288, preload spec), built once per manifest entry.
 */

/**
 * What a URI reference may not hold as it is (RFC 3986): anything but unreserved
 * characters, sub-delims, ":", "@", "/", "?", "#", and a "%" that starts an escape.
 */
const NOT_IN_URI = /%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?#%]/gu
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * A manifest URL as a URI reference, the form browsers request and HTTP headers carry:
 * every character a URI cannot hold (non-ASCII, `<>"{}|^\``, `[]`, a stray "%") is
 * percent-encoded as UTF-8 ("/café.css" → "/caf%C3%A9.css"); escapes already there are
 * kept. `undefined` when the text has a lone UTF-16 surrogate, which has no UTF-8 form.
 */
export function uriReference(url: string): string | undefined {
  if (LONE_SURROGATE.test(url)) return undefined
  return url.replace(NOT_IN_URI, (c) => encodeURIComponent(c))
}

/** Fetch destinations whose preload needs CORS mode to be reused: `crossorigin` is added unless set. */
const CORS_BY_DEFAULT = new Set(['font'])

export function preloadLink(url: string, type: string, crossorigin: boolean | 'anonymous' | 'use-credentials' | undefined, nopush: boolean): string {
  // A compiled manifest's URL is a URI reference already (encoding it again changes nothing).
  const target = uriReference(url) ?? uriReference(url.replace(new RegExp(LONE_SURROGATE, 'g'), '\ufffd'))!
  let link = `<${target}>; rel=preload; as=${type}`
  const cors = crossorigin ?? CORS_BY_DEFAULT.has(type)
  if (cors === 'use-credentials') link += '; crossorigin=use-credentials'
  else if (cors) link += '; crossorigin'
  if (nopush) link += '; nopush'
  return link
}
