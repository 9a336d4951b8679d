/**
 * helmet, set for an HTTPS server: HSTS on (one year, subdomains), helmet's other
 * defaults. `securityHeaders()` renders the same headers once, for responses that do
 * not pass through the Express stack (pushed responses built by hand).
 */
import type { RequestHandler } from 'express'
import helmet, { type HelmetOptions } from 'helmet'

export const SECURITY_OPTIONS: Readonly<HelmetOptions> = Object.freeze({
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
})

/** The helmet middleware with {@link SECURITY_OPTIONS} (or your own options). */
export function security(options: Readonly<HelmetOptions> = SECURITY_OPTIONS): RequestHandler {
  return helmet(options) as unknown as RequestHandler
}

/** The headers helmet sets on every response with these options, computed once. */
export function securityHeaders(options: Readonly<HelmetOptions> = SECURITY_OPTIONS): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {}
  const collector = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  let failure: unknown
  helmet(options)({} as never, collector as never, (err?: unknown) => {
    failure = err
  })
  if (failure) throw failure
  return Object.freeze(headers)
}
