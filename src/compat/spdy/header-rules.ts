/**
 * What makes a request's header list malformed (RFC 9113 §8.1.1, §8.2, §8.3.1). A
 * malformed request is a stream error of type PROTOCOL_ERROR: it is reset and never
 * reaches the app. spdy-transport checked none of this (it only refused upper-case
 * names, as a connection error), so a proxying app could forward what an HTTP/1.1
 * backend reads differently (request smuggling).
 */

export interface Field {
  readonly name: string
  readonly value: string
}

/** RFC 9113 §8.2.2: fields an HTTP/2 message never carries. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

/** A field name: token characters, lower case (RFC 9110 §5.1, RFC 9113 §8.2.1). */
const NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
/** A field value: no NUL, CR or LF; no leading or trailing whitespace (RFC 9113 §8.2.1). */
const BAD_VALUE = /[\0\r\n]|^[ \t]|[ \t]$/

function fieldProblem(field: Field): string | undefined {
  const name = field.name.startsWith(':') ? field.name.slice(1) : field.name
  if (!NAME.test(name)) return `invalid field name ${JSON.stringify(field.name)}`
  if (BAD_VALUE.test(field.value)) return `invalid value of ${field.name}`
  return undefined
}

function regularProblem(field: Field): string | undefined {
  if (CONNECTION_SPECIFIC.has(field.name)) return `connection-specific field ${field.name}`
  if (field.name === 'te' && field.value !== 'trailers') return `te: ${JSON.stringify(field.value)} (only "trailers" is allowed)`
  return fieldProblem(field)
}

/** Why a request's header list is malformed, or `undefined` when it is well-formed. */
export function requestProblem(fields: readonly Field[]): string | undefined {
  // The four request pseudo-headers' values (no Map per request).
  let method: string | undefined
  let scheme: string | undefined
  let authority: string | undefined
  let path: string | undefined
  let regular = false
  let contentLength: string | undefined
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!
    const name = field.name
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (regular) return `pseudo-header ${name} after a regular field`
      let seen: string | undefined
      switch (name) {
        case ':method':
          seen = method
          method = field.value
          break
        case ':scheme':
          seen = scheme
          scheme = field.value
          break
        case ':authority':
          seen = authority
          authority = field.value
          break
        case ':path':
          seen = path
          path = field.value
          break
        default:
          return `pseudo-header ${name} is not a request pseudo-header`
      }
      if (seen !== undefined) return `pseudo-header ${name} twice`
      const problem = fieldProblem(field)
      if (problem) return problem
      continue
    }
    regular = true
    const problem = regularProblem(field)
    if (problem) return problem
    if (name === 'content-length') {
      if (!/^[0-9]+$/.test(field.value)) return `content-length ${JSON.stringify(field.value)} is not a number`
      if (contentLength !== undefined && contentLength !== field.value) return 'content-length twice, with different values'
      contentLength = field.value
    }
  }
  if (method === undefined) return 'no :method'
  if (method === 'CONNECT') {
    if (scheme !== undefined || path !== undefined) return 'CONNECT with :scheme or :path'
    if (authority === undefined) return 'CONNECT without :authority'
    return undefined
  }
  if (scheme === undefined) return 'no :scheme'
  if (path === undefined) return 'no :path'
  if (path === '') return 'empty :path'
  return undefined
}

/** Why a trailer section is malformed (pseudo-headers, connection-specific fields), or `undefined`. */
export function trailersProblem(fields: readonly Field[]): string | undefined {
  for (const field of fields) {
    if (field.name.startsWith(':')) return `pseudo-header ${field.name} in trailers`
    const problem = regularProblem(field)
    if (problem) return problem
  }
  return undefined
}

/** The request's content-length as a number, or -1 when it has none. Only for lists `requestProblem` accepted. */
export function declaredLength(fields: readonly Field[]): number {
  for (let i = 0; i < fields.length; i++) if (fields[i]!.name === 'content-length') return Number(fields[i]!.value)
  return -1
}
