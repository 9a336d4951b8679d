/**
 * The options of `pushManifest()`: their types and meanings (the interfaces below, the
 * text docs/options.md is generated from), their defaults (each written once, in
 * `PUSH_MANIFEST_DEFAULTS`), their checks, and the settings the push engine runs with.
 * Durations and sizes take Express-style strings (`'30s'`, `'1mb'`) as well as numbers.
 */
import { H2PushError, WarningCodes } from '../errors.js'
import { digestShape } from '../cache/digest.js'
import type { PushManifest } from '../manifest/load.js'
import type { PushEvent } from '../push/events.js'
import { DEFAULT_INHERITED_HEADERS } from '../push/inherited-headers.js'
import type { PushSettings } from '../push/settings.js'
import { FileSource, type Dotfiles } from '../push/sources.js'
import { measuredNumber, validateOptions, type Measured, type OptionType } from './validate.js'

export interface PushManifestOptions {
  /** The manifest: a JSON file path (or file URL), or the manifest object itself. Required. */
  manifest: string | URL | PushManifest
  /** Folder of static files: a manifest URL naming a file here is streamed from disk; others are dispatched through the app. */
  root?: string
  /**
   * Dotfile URLs (a segment starting with ".", as express.static reads it: `/.env`,
   * `/css%2f..%2f.env`): `'ignore'` and `'deny'` never push them (nor preload them) and
   * warn once per manifest entry; `'allow'` treats them as any URL. Default 'ignore', as
   * express.static.
   */
  dotfiles?: 'allow' | 'deny' | 'ignore'
  /** Push at most this many resources per response; the rest get a Link header. Default 16. */
  maxPushesPerResponse?: number
  /** Push at most this many body bytes per response (bytes, or a size: `'1mb'`; paced by the client's flow-control window, not capped at it). Default 1 MiB. */
  maxPushBytes?: number | string
  /** At most this many pushed streams in flight (promised, not yet closed) on one connection, across its requests. Default 64. */
  maxPushesPerConnection?: number
  /** At most this many body bytes of pushes in flight on one connection, across its requests (bytes, or a size: `'4mb'`). Default 4 MiB. */
  maxPushBytesPerConnection?: number | string
  /**
   * Headers set on the page's response before this middleware runs that pushed responses
   * inherit (names, any case). Per-request headers such as a reflected
   * `access-control-allow-origin` are not inherited unless listed here. Default: helmet's
   * security headers (`strict-transport-security`, `content-security-policy`,
   * `x-content-type-options`, ...).
   */
  inheritHeaders?: readonly string[]
  /** Refuse a manifest route with more URLs than this. Default 64. */
  maxEntriesPerRoute?: number
  /** Send `Link: <url>; rel=preload; as=<type>` for what is not pushed. Default true. */
  preloadHeader?: boolean
  /** Reload the manifest file when it changes. Default: on when NODE_ENV is not "production". */
  watch?: boolean
  /** Cache-Control of files pushed from `root`. Default "public, max-age=0". */
  cacheControl?: string
  /**
   * How long a file pushed from `root` is pushed as last seen before its stat is checked
   * again (ms, or a duration: `'1s'`); concurrent pushes of a file share one stat. 0 checks
   * on every push. Files over 64 KB are opened for each push and sent as that open file is.
   * Default 1000.
   */
  fileRecheck?: number | string
  /** @deprecated Renamed `fileRecheck` (which also takes a duration string); still read, with a warning. */
  fileRecheckMs?: number
  /** How long a dispatched push may take before it is dropped (ms, or a duration: `'2s'`). Default 2000. */
  dispatchTimeout?: number | string
  /**
   * 103 Early Hints with the Link values of what is not pushed: `true` over HTTP/2,
   * `'always'` over HTTP/1.1 too, `false` never. Default true.
   */
  earlyHints?: boolean | 'always'
  /**
   * Warn (console.warn, once per asset) when a hinted asset's own response is not fresh
   * (`max-age=0`, `no-cache`, `no-store`, no lifetime): Chromium then fetches it again
   * instead of reusing the early-hints preload. Seen when a client requests the asset
   * through this middleware. Default: on when NODE_ENV is not "production".
   */
  warnStaleHints?: boolean
  /** A pushed stream with no progress for this long (ms, or a duration: `'30s'`), or still waiting for a stream the client allows, is reset and its body released. Default 30000. */
  pushTimeout?: number | string
  /** How many pushed resources each HTTP/2 connection remembers (never pushed twice on it); 0 turns the diary off. Default 256. */
  diarySize?: number
  /**
   * The cache digest cookie: remembers across connections what a client was pushed, so a
   * returning client is not pushed it again. `true` (default) with the defaults below,
   * `false` for none, or settings.
   */
  cacheDigest?: boolean | CacheDigestOptions
  /**
   * Also push what the app names itself, as H2O's `http2-push-preload` does: the
   * `Link: rel=preload` values of a response's own headers and of its
   * `res.writeEarlyHints()` calls (not those marked `nopush`), with the same limits, diary,
   * digest and events as manifest pushes. Default true.
   */
  linkPush?: boolean
  /**
   * The app is behind an edge (H2O, nginx, Apache, a CDN) that terminates HTTP/2 and pushes
   * what `Link: rel=preload` lists: over HTTP/1.1, entries the client's digest cookie holds
   * are linked with `nopush`, the others linked for the edge to push and recorded in the
   * digest (with `earlyHints: 'always'`, a 103 goes out over HTTP/1.1 too). Default false.
   */
  behindProxy?: boolean
  /** Called for every push, skip, cancel and reload. */
  onEvent?: (event: PushEvent) => void
}

export interface CacheDigestOptions {
  /** Cookie name. Default "h2push". */
  cookieName?: string
  /** Cookie Max-Age in seconds, or a duration (`'7d'`); at most 400 days. Default 604800 (7 days). */
  maxAge?: number | string
  /** False-positive rate at capacity (an asset wrongly taken as cached: preloaded, not pushed). Default 1/128. */
  falsePositiveRate?: number
  /** Keys the digest holds before it starts again. Default 256. */
  capacity?: number
}

/** A default, and how the reference shows it. */
interface Default<T> {
  readonly value: T
  readonly shown: string
}

const MiB = 1024 * 1024

/** Every default of `pushManifest()`, once. Options absent here have none (`manifest`, `root`, `onEvent`) or depend on NODE_ENV. */
export const PUSH_MANIFEST_DEFAULTS = {
  dotfiles: { value: 'ignore', shown: '`"ignore"`' },
  maxPushesPerResponse: { value: 16, shown: '`16`' },
  maxPushBytes: { value: 1 * MiB, shown: '1 MiB' },
  maxPushesPerConnection: { value: 64, shown: '`64`' },
  maxPushBytesPerConnection: { value: 4 * MiB, shown: '4 MiB' },
  inheritHeaders: { value: DEFAULT_INHERITED_HEADERS, shown: "helmet's security headers (`DEFAULT_INHERITED_HEADERS`)" },
  maxEntriesPerRoute: { value: 64, shown: '`64`' },
  preloadHeader: { value: true, shown: '`true`' },
  watch: { value: undefined, shown: 'on when `NODE_ENV` is not `"production"`' },
  cacheControl: { value: 'public, max-age=0', shown: '`"public, max-age=0"`' },
  fileRecheck: { value: 1000, shown: '`1000` (1 s)' },
  dispatchTimeout: { value: 2000, shown: '`2000` (2 s)' },
  earlyHints: { value: true, shown: '`true`' },
  warnStaleHints: { value: undefined, shown: 'on when `NODE_ENV` is not `"production"`' },
  pushTimeout: { value: 30_000, shown: '`30000` (30 s)' },
  diarySize: { value: 256, shown: '`256`' },
  cacheDigest: { value: true, shown: '`true`' },
  linkPush: { value: true, shown: '`true`' },
  behindProxy: { value: false, shown: '`false`' },
} as const satisfies Partial<Record<keyof PushManifestOptions, Default<unknown>>>

/** The defaults of `cacheDigest`'s settings. */
export const CACHE_DIGEST_DEFAULTS = {
  cookieName: { value: 'h2push', shown: '`"h2push"`' },
  maxAge: { value: 7 * 24 * 3600, shown: '`604800` (7 days)' },
  falsePositiveRate: { value: 1 / 128, shown: '`1/128`' },
  capacity: { value: 256, shown: '`256`' },
} as const satisfies Record<keyof CacheDigestOptions, Default<unknown>>

const duration = (number: Measured['number']): Measured => ({ number, measure: 'duration' })
const size = (number: Measured['number']): Measured => ({ number, measure: 'size' })

export const PUSH_MANIFEST_OPTION_TYPES = {
  manifest: 'path, URL or object',
  root: 'string',
  dotfiles: ['allow', 'deny', 'ignore'],
  maxPushesPerResponse: 'positive integer',
  maxPushBytes: size('non-negative integer'),
  maxPushesPerConnection: 'positive integer',
  maxPushBytesPerConnection: size('non-negative integer'),
  inheritHeaders: 'array',
  maxEntriesPerRoute: 'positive integer',
  preloadHeader: 'boolean',
  watch: 'boolean',
  cacheControl: 'string',
  fileRecheck: duration('non-negative number'),
  fileRecheckMs: 'non-negative number',
  dispatchTimeout: duration('positive integer'),
  earlyHints: [true, false, 'always'],
  warnStaleHints: 'boolean',
  diarySize: 'non-negative integer',
  pushTimeout: duration('positive integer'),
  cacheDigest: 'boolean or object',
  onEvent: 'function',
  linkPush: 'boolean',
  behindProxy: 'boolean',
} as const satisfies Readonly<Record<keyof PushManifestOptions, OptionType>>

export const CACHE_DIGEST_OPTION_TYPES = {
  cookieName: 'string',
  maxAge: duration('positive integer'),
  falsePositiveRate: 'non-negative number',
  capacity: 'positive integer',
} as const satisfies Readonly<Record<keyof CacheDigestOptions, OptionType>>

/** Old option names, read as the new ones with a deprecation warning (once per process). */
export const DEPRECATED_OPTIONS = {
  fileRecheckMs: { renamed: 'fileRecheck', code: WarningCodes.H2PUSH_DEP_FILE_RECHECK_MS },
} as const satisfies Partial<Record<keyof PushManifestOptions, { renamed: keyof PushManifestOptions; code: string }>>

export function optionError(message: string): H2PushError {
  return new H2PushError('ERR_H2PUSH_INVALID_OPTION', `pushManifest: ${message}`)
}

/** What `pushManifest()` builds from its options: the engine's settings and what the wiring needs. */
export interface ResolvedOptions {
  readonly source: string | URL | PushManifest
  readonly settings: PushSettings & { readonly maxEntriesPerRoute: number }
  readonly root: string | undefined
  readonly dotfiles: Dotfiles
  readonly watch: boolean
  readonly warnStaleHints: boolean
  readonly linkPush: boolean
  readonly onEvent: ((event: PushEvent) => void) | undefined
}

const warnedDeprecated = new Set<string>()

/** New names for deprecated ones (warned once each); both at once is a conflict. */
function withCurrentNames(options: Readonly<Partial<PushManifestOptions>>): Partial<PushManifestOptions> {
  const current: Record<string, unknown> = { ...options }
  for (const [old, { renamed, code }] of Object.entries(DEPRECATED_OPTIONS)) {
    if (current[old] === undefined) continue
    if (current[renamed] !== undefined) throw optionError(`\`${old}\` is the old name of \`${renamed}\`: pass \`${renamed}\` only`)
    if (!warnedDeprecated.has(code)) {
      warnedDeprecated.add(code)
      process.emitWarning(`pushManifest: option \`${old}\` is renamed \`${renamed}\``, { type: 'DeprecationWarning', code })
    }
    current[renamed] = current[old]
    delete current[old]
  }
  return current as Partial<PushManifestOptions>
}

/** Checks the options (all but `manifest`'s content and `root`'s folder) and merges the defaults. */
export function resolveOptions(options: Readonly<PushManifestOptions>): ResolvedOptions {
  const { manifest: source, ...rest } = options
  validateOptions('pushManifest', rest, PUSH_MANIFEST_OPTION_TYPES)
  if (source === undefined) throw optionError('the `manifest` option is required: a JSON file path, or the manifest object')
  if (typeof source !== 'string' && !(source instanceof URL) && (typeof source !== 'object' || source === null || Array.isArray(source))) {
    throw optionError(`\`manifest\` must be a file path, a file URL or an object, got ${JSON.stringify(source)}`)
  }
  const given = withoutUndefined(withCurrentNames(rest))
  const value = <K extends keyof typeof PUSH_MANIFEST_DEFAULTS>(key: K) =>
    (given[key] ?? PUSH_MANIFEST_DEFAULTS[key].value) as Exclude<PushManifestOptions[K], undefined | string> | (typeof PUSH_MANIFEST_DEFAULTS)[K]['value']
  const number = (key: 'maxPushBytes' | 'maxPushBytesPerConnection' | 'fileRecheck' | 'dispatchTimeout' | 'pushTimeout'): number => {
    const type = PUSH_MANIFEST_OPTION_TYPES[key]
    return measuredNumber(given[key] ?? PUSH_MANIFEST_DEFAULTS[key].value, type.measure) as number
  }
  const production = process.env['NODE_ENV'] === 'production'
  const settings = {
    maxPushesPerResponse: value('maxPushesPerResponse') as number,
    maxPushBytes: number('maxPushBytes'),
    maxPushesPerConnection: value('maxPushesPerConnection') as number,
    maxPushBytesPerConnection: number('maxPushBytesPerConnection'),
    maxEntriesPerRoute: value('maxEntriesPerRoute') as number,
    preloadHeader: value('preloadHeader') as boolean,
    cacheControl: value('cacheControl') as string,
    files: new FileSource(),
    fileRecheckMs: number('fileRecheck'),
    dispatchTimeout: number('dispatchTimeout'),
    earlyHints: value('earlyHints') as PushSettings['earlyHints'],
    diarySize: value('diarySize') as number,
    behindProxy: value('behindProxy') as boolean,
    inheritHeaders: inheritedHeaderNames(given.inheritHeaders),
    pushTimeout: number('pushTimeout'),
    cacheDigest: digestSettings(given.cacheDigest),
  }
  return {
    source,
    settings,
    root: given.root,
    dotfiles: value('dotfiles') as Dotfiles,
    watch: given.watch ?? !production,
    warnStaleHints: (given.warnStaleHints ?? !production) && settings.earlyHints !== false,
    linkPush: value('linkPush') as boolean,
    onEvent: given.onEvent,
  }
}

function digestSettings(option: boolean | CacheDigestOptions | undefined): PushSettings['cacheDigest'] {
  if (option === false) return false
  if (option !== undefined && option !== true && (typeof option !== 'object' || option === null || Array.isArray(option))) {
    throw optionError(`\`cacheDigest\` must be true, false or an object, got ${JSON.stringify(option)}`)
  }
  const given = withoutUndefined(typeof option === 'object' ? option : {})
  validateOptions('pushManifest: cacheDigest', given, CACHE_DIGEST_OPTION_TYPES)
  const cookieName = given.cookieName ?? CACHE_DIGEST_DEFAULTS.cookieName.value
  const maxAgeGiven = given.maxAge ?? CACHE_DIGEST_DEFAULTS.maxAge.value
  // A number is seconds (the cookie's Max-Age); a duration string is read in ms.
  const maxAge = typeof maxAgeGiven === 'string' ? Math.ceil((measuredNumber(maxAgeGiven, 'duration') as number) / 1000) : maxAgeGiven
  const falsePositiveRate = given.falsePositiveRate ?? CACHE_DIGEST_DEFAULTS.falsePositiveRate.value
  const capacity = given.capacity ?? CACHE_DIGEST_DEFAULTS.capacity.value
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookieName)) {
    throw optionError(`\`cacheDigest.cookieName\` ${JSON.stringify(cookieName)} is not a valid cookie name (letters, digits, and !#$%&'*+-.^_\`|~)`)
  }
  if (maxAge > 400 * 24 * 3600) throw optionError(`\`cacheDigest.maxAge\` is in seconds and at most 400 days (34560000), got ${maxAge}`)
  if (!(falsePositiveRate > 0 && falsePositiveRate <= 0.5)) {
    throw optionError(`\`cacheDigest.falsePositiveRate\` must be above 0 and at most 0.5 (1/128 = 0.0078125), got ${falsePositiveRate}`)
  }
  const shape = digestShape(falsePositiveRate, capacity)
  if (shape.p + shape.capacityLog > 30) throw optionError('`cacheDigest`: capacity / falsePositiveRate above 2^30 are not supported')
  return { cookieName, maxAge, shape }
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function inheritedHeaderNames(option: readonly string[] | undefined): ReadonlySet<string> {
  if (option === undefined) return new Set(PUSH_MANIFEST_DEFAULTS.inheritHeaders.value)
  if (!Array.isArray(option)) throw optionError(`\`inheritHeaders\` must be an array of header names, got ${JSON.stringify(option)}`)
  for (const [i, name] of option.entries()) {
    if (typeof name !== 'string' || !HEADER_NAME.test(name)) {
      throw optionError(`\`inheritHeaders[${i}]\` ${JSON.stringify(name)} is not a header name (letters, digits, and !#$%&'*+-.^_\`|~)`)
    }
  }
  return new Set(option.map((name) => name.toLowerCase()))
}

function withoutUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>
}
