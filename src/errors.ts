/**
 * The catalogue of coded errors thrown or reported by express-h2-push.
 * Every code here is listed in docs/api.md ("Errors").
 *
 * The scheme: `ERR_H2PUSH_<WHAT>`. The three push manifest codes keep their first names,
 * `ERR_PUSH_MANIFEST_<WHAT>` (the code a PushManifestError carries, which users and the
 * CLI match on); a new code takes the `ERR_H2PUSH_` prefix.
 */
export const ErrorCodes = {
  /** createServer or pushManifest was given an option it does not know, or a bad value (or pushManifest was mounted without being called); or a bad `inspect --duration`. */
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
  /** The push manifest file cannot be read. */
  ERR_PUSH_MANIFEST_READ: 'ERR_PUSH_MANIFEST_READ',
  /** The push manifest is not valid JSON. */
  ERR_PUSH_MANIFEST_SYNTAX: 'ERR_PUSH_MANIFEST_SYNTAX',
  /** The push manifest is JSON but breaks the format (schema, route pattern, URL rules, limits). */
  ERR_PUSH_MANIFEST_INVALID: 'ERR_PUSH_MANIFEST_INVALID',
  /** `generate`: the Vite build manifest (`.vite/manifest.json`, `--vite FILE`) cannot be read, is not JSON, or is not a Vite manifest. */
  ERR_H2PUSH_VITE_MANIFEST: 'ERR_H2PUSH_VITE_MANIFEST',
  /** `generate`: the existing manifest has more routes or URLs than the generated one (or is not JSON); `--force` replaces it. */
  ERR_H2PUSH_MANIFEST_SHRINK: 'ERR_H2PUSH_MANIFEST_SHRINK',
  /** `generate`: the manifest file cannot be written (or the existing one cannot be read). */
  ERR_H2PUSH_MANIFEST_WRITE: 'ERR_H2PUSH_MANIFEST_WRITE',
} as const

export type ErrorCode = keyof typeof ErrorCodes

/**
 * Codes of the warnings express-h2-push emits (`process.emitWarning`, seen with
 * `process.on('warning')` and printed by Node as `[CODE] ...`).
 */
export const WarningCodes = {
  /** A push manifest entry names a file that is not under `root` (at construction or reload): it is not hinted to clients that cannot take a push. */
  H2PUSH_MANIFEST_MISSING_FILE: 'H2PUSH_MANIFEST_MISSING_FILE',
  /** DeprecationWarning: `fileRecheckMs` is renamed `fileRecheck`. */
  H2PUSH_DEP_FILE_RECHECK_MS: 'H2PUSH_DEP_FILE_RECHECK_MS',
} as const

export type WarningCode = keyof typeof WarningCodes

/** An error with a stable `code`, as Node's own errors have. */
export class H2PushError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'H2PushError'
    this.code = code
  }
}

/** Where in a push manifest a problem is. */
export interface ManifestLocation {
  /** The manifest file, or `"(object)"` for a manifest passed as an object. */
  readonly file: string
  /** JSON pointer (RFC 6901) of the bad value, `""` for the whole document. */
  readonly pointer: string
  /** 1-based line and column, for syntax errors. */
  readonly line?: number
  readonly column?: number
}

/** A push manifest that cannot be used: what, where (file, JSON pointer or line/column), the value, the fix. */
export class PushManifestError extends H2PushError implements ManifestLocation {
  readonly file: string
  readonly pointer: string
  readonly line?: number
  readonly column?: number
  readonly value?: unknown

  constructor(
    code: 'ERR_PUSH_MANIFEST_READ' | 'ERR_PUSH_MANIFEST_SYNTAX' | 'ERR_PUSH_MANIFEST_INVALID',
    where: ManifestLocation,
    problem: string,
    fix: string,
    details: { value?: unknown; cause?: unknown } = {},
  ) {
    const at = where.line !== undefined ? `${where.file}:${where.line}:${where.column ?? 1}` : `${where.file} at ${where.pointer === '' ? '/' : where.pointer}`
    super(code, `push manifest ${at}: ${problem}. Fix: ${fix}`, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'PushManifestError'
    this.file = where.file
    this.pointer = where.pointer
    if (where.line !== undefined) this.line = where.line
    if (where.column !== undefined) this.column = where.column
    if ('value' in details) this.value = details.value
  }
}
