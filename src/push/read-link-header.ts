/**
 * Reads the preload links of a `Link` header (RFC 8288 §3) the way H2O, Apache and nginx
 * read them to push: `<url>; rel=preload; as=style`, with `nopush` honoured. Written here
 * because the parsers on npm mishandle a parameter without a value (`nopush`) followed by
 * another link, which is exactly the case that matters for push.
 */

export interface PreloadLink {
  /** The target as written (a URI reference). */
  readonly url: string
  /** The `as` parameter (fetch destination), or '' when absent. */
  readonly as: string
  readonly nopush: boolean
  /** The link-value as written, for hints. */
  readonly value: string
}

/** One link-value: `<` URI `>` then `;`-separated params; `i` at its `<`. Answers the end index. */
function readLink(text: string, i: number, found: PreloadLink[]): number {
  const close = text.indexOf('>', i)
  if (close < 0) return text.length
  const url = text.slice(i + 1, close).trim()
  const params = new Map<string, string>()
  let j = close + 1
  for (;;) {
    while (j < text.length && (text[j] === ' ' || text[j] === '\t')) j++
    if (j >= text.length || text[j] === ',') break
    if (text[j] !== ';') {
      // Not a link-value as RFC 8288 writes it: skip to the next top-level comma.
      while (j < text.length && text[j] !== ',') j++
      break
    }
    j++
    const name = /^[ \t]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\*?[ \t]*/.exec(text.slice(j))
    if (!name) continue
    j += name[0].length
    let value = ''
    if (text[j] === '=') {
      j++
      while (text[j] === ' ' || text[j] === '\t') j++
      if (text[j] === '"') {
        j++
        while (j < text.length && text[j] !== '"') {
          if (text[j] === '\\') j++
          value += text[j] ?? ''
          j++
        }
        j++
      } else {
        const token = /^[^;,\s]*/.exec(text.slice(j))![0]
        value = token
        j += token.length
      }
    }
    const key = name[1]!.toLowerCase()
    if (!params.has(key)) params.set(key, value)
  }
  const rel = (params.get('rel') ?? '').toLowerCase().split(/[ \t]+/)
  if (rel.includes('preload')) {
    found.push({ url, as: (params.get('as') ?? '').toLowerCase(), nopush: params.has('nopush'), value: text.slice(i, j).trim() })
  }
  return j
}

/** The preload links of a Link header value (a string, or the array `getHeader` may give). */
export function preloadLinks(header: unknown): PreloadLink[] {
  const found: PreloadLink[] = []
  const values = Array.isArray(header) ? header : header === undefined || header === null ? [] : [header]
  for (const raw of values) {
    const text = String(raw)
    let i = 0
    while (i < text.length) {
      const open = text.indexOf('<', i)
      if (open < 0) break
      // A "<" inside a quoted parameter is not a link: readLink skips quoted strings.
      i = readLink(text, open, found)
      if (text[i] === ',') i++
    }
  }
  return found
}
