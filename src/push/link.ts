/**
 * `Link: rel=preload` values (RFC 8288, preload spec), built once per manifest entry.
 */

/** Fetch destinations whose preload needs CORS mode to be reused: `crossorigin` is added unless set. */
const CORS_BY_DEFAULT = new Set(['font'])

export function preloadLink(
  url: string,
  type: string,
  crossorigin: boolean | 'anonymous' | 'use-credentials' | undefined,
  nopush: boolean,
): string {
  const target = url.replace(/[<>]/g, (c) => (c === '<' ? '%3C' : '%3E'))
  let link = `<${target}>; rel=preload; as=${type}`
  const cors = crossorigin ?? (CORS_BY_DEFAULT.has(type) ? true : false)
  if (cors === 'use-credentials') link += '; crossorigin=use-credentials'
  else if (cors) link += '; crossorigin'
  if (nopush) link += '; nopush'
  return link
}
