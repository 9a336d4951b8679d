/**
 * The catalogue of coded errors thrown or reported by express-h2-push.
 * Every code here is listed in the README ("Errors").
 */
export const ErrorCodes = {
  /** createServer was given an option it does not know, or a bad value. */
  ERR_H2PUSH_INVALID_OPTION: 'ERR_H2PUSH_INVALID_OPTION',
  /** No TLS key/certificate, and no development certificate may be generated. */
  ERR_H2PUSH_TLS_MISSING: 'ERR_H2PUSH_TLS_MISSING',
  /** The peer does not accept server push (SETTINGS_ENABLE_PUSH = 0). */
  ERR_H2PUSH_PUSH_DISABLED: 'ERR_H2PUSH_PUSH_DISABLED',
  /** A push was attempted after a GOAWAY, or on a closed/ended parent stream. */
  ERR_H2PUSH_STREAM_CLOSED: 'ERR_H2PUSH_STREAM_CLOSED',
  /** The push target or its headers are not allowed (not a same-origin absolute path, forbidden header). */
  ERR_H2PUSH_INVALID_PUSH: 'ERR_H2PUSH_INVALID_PUSH',
  /** The transport refused the PUSH_PROMISE for another reason. */
  ERR_H2PUSH_PUSH_FAILED: 'ERR_H2PUSH_PUSH_FAILED',
} as const

export type ErrorCode = keyof typeof ErrorCodes

/** An error with a stable `code`, as Node's own errors have. */
export class H2PushError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'H2PushError'
    this.code = code
  }
}
