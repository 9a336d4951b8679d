/**
 * pushManifest(): the middleware users mount. It reads a per-route JSON push
 * manifest once (and again on edits, when watching), and for each matching GET
 * pushes the route's resources before the route's own response, or sends
 * `Link: rel=preload` where the client cannot take a push.
 */
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import createDebug from 'debug'
import { H2PushError, PushManifestError } from '../src/errors.js'
import { validateOptions, type OptionType } from '../src/options/validate.js'
import { compileManifest, loadManifestFile, OBJECT_SOURCE, type CompiledEntry, type CompiledManifest, type PushManifest } from '../src/manifest/load.js'
import { createRouteTable, type RouteTable } from '../src/manifest/match.js'
import { watchFile } from '../src/manifest/watch.js'
import { FileSource, fileUnderRoot, namesDotfile, type Dotfiles } from '../src/push/sources.js'
import { isDispatched } from '../src/push/dispatch.js'
import { HintFreshness, observingHints } from '../src/push/hint-freshness.js'
import { emptyStats, type PushEvent, type PushStats } from '../src/push/events.js'
import { pushEntries } from '../src/push/push-entries.js'
import type { PreparedEntry, PushEngine, PushSettings } from '../src/push/settings.js'
import { DEFAULT_INHERITED_HEADERS } from '../src/push/inherited-headers.js'
import { ConnectionBudgets } from '../src/push/connection-budget.js'
import { linkEntry, pushNamedLinks, type LinkPushContext } from '../src/push/link-push.js'
import { getPusher } from '../src/transports/get-pusher.js'
import { digestShape } from '../src/cache/digest.js'

const debug = createDebug('express-h2-push:manifest')

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
  dotfiles?: Dotfiles
  /** Push at most this many resources per response; the rest get a Link header. Default 16. */
  maxPushesPerResponse?: number
  /** Push at most this many body bytes per response (paced by the client's flow-control window, not capped at it). Default 1 MiB. */
  maxPushBytes?: number
  /** At most this many pushed streams in flight (promised, not yet closed) on one connection, across its requests. Default 64. */
  maxPushesPerConnection?: number
  /** At most this many body bytes of pushes in flight on one connection, across its requests. Default 4 MiB. */
  maxPushBytesPerConnection?: number
  /**
   * Headers set on the page's response before this middleware runs that pushed responses
   * inherit (names, any case). Default: helmet's security headers (`strict-transport-security`,
   * `content-security-policy`, `x-content-type-options`, ...); per-request headers such as a
   * reflected `access-control-allow-origin` are not inherited unless listed here.
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
   * How long (ms) a file pushed from `root` is pushed as last seen before its stat is
   * checked again; concurrent pushes of a file share one stat. 0 checks on every push.
   * Files over 64 KB are opened for each push and sent as that open file is. Default 1000.
   */
  fileRecheckMs?: number
  /** How long a dispatched push may take, in ms, before it is dropped. Default 2000. */
  dispatchTimeout?: number
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
  /** A pushed stream with no progress for this long (ms), or still waiting for a stream the client allows, is reset and its body released. Default 30000. */
  pushTimeout?: number
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
  /** Cookie Max-Age in seconds (at most 400 days). Default 604800 (7 days). */
  maxAge?: number
  /** False-positive rate at capacity (an asset wrongly taken as cached: preloaded, not pushed). Default 1/128. */
  falsePositiveRate?: number
  /** Keys the digest holds before it starts again. Default 256. */
  capacity?: number
}

export interface PushManifestMiddleware extends RequestHandler {
  /** Counters since start: pushed, bytes, cancelled, skipped by reason. */
  readonly stats: Readonly<PushStats>
  /** Reloads the manifest file now (what `watch` does on a change). Throws on an invalid manifest, keeping the last good one. */
  reload(): void
  /** Stops watching the manifest file. */
  close(): void
}

const DEFAULTS = {
  maxPushesPerResponse: 16,
  maxPushBytes: 1024 * 1024,
  maxPushesPerConnection: 64,
  maxPushBytesPerConnection: 4 * 1024 * 1024,
  maxEntriesPerRoute: 64,
  dotfiles: 'ignore',
  preloadHeader: true,
  cacheControl: 'public, max-age=0',
  fileRecheckMs: 1000,
  dispatchTimeout: 2000,
  earlyHints: true,
  diarySize: 256,
  pushTimeout: 30_000,
  linkPush: true,
  behindProxy: false,
} as const

const DIGEST_DEFAULTS = { cookieName: 'h2push', maxAge: 7 * 24 * 3600, falsePositiveRate: 1 / 128, capacity: 256 } as const
const DIGEST_OPTION_TYPES = {
  cookieName: 'string',
  maxAge: 'positive integer',
  falsePositiveRate: 'non-negative number',
  capacity: 'positive integer',
} as const

const OPTION_TYPES = {
  manifest: 'path, URL or object',
  root: 'string',
  dotfiles: ['allow', 'deny', 'ignore'],
  maxPushesPerResponse: 'positive integer',
  maxPushBytes: 'non-negative integer',
  maxPushesPerConnection: 'positive integer',
  maxPushBytesPerConnection: 'non-negative integer',
  inheritHeaders: 'array',
  maxEntriesPerRoute: 'positive integer',
  preloadHeader: 'boolean',
  watch: 'boolean',
  cacheControl: 'string',
  fileRecheckMs: 'non-negative number',
  dispatchTimeout: 'positive integer',
  earlyHints: [true, false, 'always'],
  warnStaleHints: 'boolean',
  diarySize: 'non-negative integer',
  pushTimeout: 'positive integer',
  cacheDigest: 'boolean or object',
  onEvent: 'function',
  linkPush: 'boolean',
  behindProxy: 'boolean',
} as const satisfies Readonly<Record<keyof PushManifestOptions, OptionType>>

function optionError(message: string): H2PushError {
  return new H2PushError('ERR_H2PUSH_INVALID_OPTION', `pushManifest: ${message}`)
}

function looksLikeRequest(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'method' in value && 'headers' in value && 'socket' in value
}

/**
 * Pushes what a JSON push manifest lists for each route, before the route answers;
 * where the client cannot take a push, sends `Link: rel=preload` instead.
 *
 * @param options.manifest The manifest file (or object): `{ "/route": { "/url": { "type": "style" } } }`.
 * @param options.root Folder of static files pushed from disk. Default: none (everything is dispatched through the app).
 * @param options.dotfiles Default 'ignore' (as express.static): dotfile URLs are not pushed, with a warning.
 * @param options.maxPushesPerResponse Default 16.
 * @param options.maxPushBytes Default 1 MiB (paced by the client's flow-control window, not capped at it).
 * @param options.maxPushesPerConnection Default 64 pushed streams in flight per connection.
 * @param options.maxPushBytesPerConnection Default 4 MiB of pushed bodies in flight per connection.
 * @param options.inheritHeaders Default: helmet's security headers (see `DEFAULT_INHERITED_HEADERS`).
 * @param options.maxEntriesPerRoute Default 64.
 * @param options.preloadHeader Default true.
 * @param options.watch Default: `process.env.NODE_ENV !== 'production'`.
 * @param options.cacheControl Default "public, max-age=0".
 * @param options.fileRecheckMs Default 1000 (ms a file's stat is reused).
 * @param options.dispatchTimeout Default 2000 (ms).
 * @param options.earlyHints Default true: a 103 Early Hints over HTTP/2 for what is not pushed.
 * @param options.warnStaleHints Default: `process.env.NODE_ENV !== 'production'` (a warning per hinted asset served without a positive max-age).
 * @param options.diarySize Default 256 resources remembered per connection.
 * @param options.pushTimeout Default 30000 (ms without progress before a push is reset).
 * @param options.cacheDigest Default true: the `h2push` cookie, 7 days, 1/128 false positives at 256 keys.
 * @param options.linkPush Default true: the app's own `Link: rel=preload` headers and `res.writeEarlyHints()` links are pushed too.
 * @param options.behindProxy Default false: HTTP/1.1 requests get Link headers the edge in front pushes (`nopush` for what the digest holds).
 * @param options.onEvent Default: none (the `debug` namespace `express-h2-push:*` logs every event).
 * @example
 * ```ts
 * app.use(helmet())
 * app.use(pushManifest({ manifest: 'push-manifest.json', root: 'public' }))
 * app.use(express.static('public'))
 * ```
 */
export function pushManifest(options: Readonly<PushManifestOptions>): PushManifestMiddleware {
  // biome-ignore lint/complexity/noArguments: three arguments mean Express called the factory itself (app.use(pushManifest))
  if (arguments.length === 3 || looksLikeRequest(options)) {
    throw optionError('it is a factory: mount it with app.use(pushManifest({ manifest: "push-manifest.json" })), not app.use(pushManifest)')
  }
  if (options === undefined || options === null || typeof options !== 'object') {
    throw optionError(`expected an options object with a \`manifest\`, got ${JSON.stringify(options)}`)
  }
  const { manifest: source, ...rest } = options
  validateOptions('pushManifest', rest, OPTION_TYPES)
  if (source === undefined) throw optionError('the `manifest` option is required: a JSON file path, or the manifest object')
  if (typeof source !== 'string' && !(source instanceof URL) && (typeof source !== 'object' || source === null || Array.isArray(source))) {
    throw optionError(`\`manifest\` must be a file path, a file URL or an object, got ${JSON.stringify(source)}`)
  }
  const { cacheDigest, inheritHeaders, warnStaleHints, ...plain } = rest
  const settings: PushSettings & { maxEntriesPerRoute: number } = {
    ...DEFAULTS,
    ...withoutUndefined(plain),
    inheritHeaders: inheritedHeaderNames(inheritHeaders),
    files: new FileSource(),
    cacheDigest: digestSettings(cacheDigest),
  }
  const budgets = new ConnectionBudgets(settings)
  const file = typeof source === 'string' ? resolve(source) : source instanceof URL ? fileURLToPath(source) : undefined
  const root = options.root === undefined ? undefined : resolve(options.root)
  if (root !== undefined) {
    let isDirectory = false
    try {
      isDirectory = statSync(root).isDirectory()
    } catch {
      // reported below
    }
    if (!isDirectory) throw optionError(`\`root\` ${JSON.stringify(options.root)} is not a folder (resolved to ${root})`)
  }
  const onEvent = options.onEvent
  const stats = emptyStats()
  const report = (event: PushEvent): void => {
    if (event.type === 'pushed') {
      stats.pushed++
      stats.bytes += event.bytes
    } else if (event.type === 'asked-edge') stats.askedEdge++
    else if (event.type === 'cancelled') stats.cancelled++
    else if (event.type === 'skipped') stats.skipped[event.reason]++
    onEvent?.(event)
  }

  const dotfiles: Dotfiles = options.dotfiles ?? DEFAULTS.dotfiles
  const warned = new Set<string>()
  const freshness = (warnStaleHints ?? process.env['NODE_ENV'] !== 'production') && settings.earlyHints !== false ? new HintFreshness() : undefined
  const prepare = (compiled: CompiledManifest): RouteTable<PreparedEntry> => {
    freshness?.update(compiled, (url) => dotfiles === 'allow' || !namesDotfile(url))
    return createRouteTable(
      compiled.routes.map((route) => ({
        matcher: route.matcher,
        entries: route.entries.map((entry) => {
          const dotfile = dotfiles !== 'allow' && namesDotfile(entry.url)
          if (dotfile) warnDotfile(compiled.file, entry, dotfiles, warned)
          return { ...entry, dotfile, file: root === undefined ? undefined : fileUnderRoot(root, entry.url, dotfiles) }
        }),
      })),
    )
  }
  const load = (): CompiledManifest => (file === undefined ? compileManifest(source, OBJECT_SOURCE, settings) : loadManifestFile(file, settings))

  let table = prepare(load())
  const reload = (): void => {
    table = prepare(load())
    debug('reloaded %s', file ?? OBJECT_SOURCE)
    report({ type: 'reloaded', file: file ?? OBJECT_SOURCE })
  }

  const watching = options.watch ?? process.env['NODE_ENV'] !== 'production'
  const stopWatching =
    watching && file !== undefined
      ? watchFile(file, () => {
          try {
            reload()
          } catch (err) {
            if (!(err instanceof PushManifestError)) throw err
            console.error(`express-h2-push: ${err.message} (the last good manifest stays in force)`)
            report({ type: 'reload-failed', file, error: err })
          }
        })
      : () => {}

  const engine: PushEngine = { settings, budgets, report }
  const linkPush: LinkPushContext | undefined =
    options.linkPush === false
      ? undefined
      : {
          ...engine,
          lastKeys: new Map(),
          toEntry: (link) =>
            linkEntry(link, (url, type, nopush, value) => ({
              url,
              type,
              nopush,
              link: value,
              pointer: 'Link header',
              dotfile: dotfiles !== 'allow' && namesDotfile(url),
              file: root === undefined ? undefined : fileUnderRoot(root, url, dotfiles),
            })),
        }

  const pushThen = async (
    req: Request,
    res: Response,
    next: NextFunction,
    entries: readonly PreparedEntry[],
    handled: Set<string> | undefined,
  ): Promise<void> => {
    try {
      await pushEntries(engine, req, res, entries, handled ? { handled } : {})
    } catch (err) {
      debug('push for %s failed: %s', req.path, (err as Error).message)
    }
    next()
  }

  // Not async: a request with nothing to push costs a method check and a lookup.
  const push = function pushManifestMiddleware(req: Request, res: Response, next: NextFunction): void {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || isDispatched(req)) return next()
    const entries = table.lookup(req.path)
    let handled: Set<string> | undefined
    if (linkPush && req.method === 'GET') {
      const pusher = getPusher(res)
      if (pusher) {
        handled = new Set()
        pushNamedLinks(req, res, pusher, handled, linkPush)
      }
    }
    if (entries.length === 0) return next()
    void pushThen(req, res, next, entries, handled)
  }
  const middleware = (freshness === undefined ? push : observingHints(push, freshness)) as PushManifestMiddleware

  Object.defineProperties(middleware, {
    stats: { get: () => stats, enumerable: true },
    reload: { value: reload },
    close: { value: stopWatching },
  })
  return middleware
}

/** Once per manifest entry: a dotfile URL is not pushed. */
function warnDotfile(file: string, entry: CompiledEntry, dotfiles: Dotfiles, warned: Set<string>): void {
  const where = `${file} at ${entry.pointer}`
  if (warned.has(where)) return
  warned.add(where)
  console.warn(
    `express-h2-push: push manifest ${where}: ${JSON.stringify(entry.url)} names a dotfile, which is not pushed (dotfiles: ${JSON.stringify(dotfiles)}, as express.static). ` +
      'Fix: remove it from the manifest, or pass `dotfiles: "allow"` to pushManifest (and to express.static) if it is meant to be public',
  )
}

function digestSettings(option: boolean | CacheDigestOptions | undefined): PushSettings['cacheDigest'] {
  if (option === false) return false
  if (option !== undefined && option !== true && (typeof option !== 'object' || option === null || Array.isArray(option))) {
    throw optionError(`\`cacheDigest\` must be true, false or an object, got ${JSON.stringify(option)}`)
  }
  const given = typeof option === 'object' ? option : {}
  validateOptions('pushManifest: cacheDigest', given, DIGEST_OPTION_TYPES)
  const config = { ...DIGEST_DEFAULTS, ...withoutUndefined(given) }
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(config.cookieName)) {
    throw optionError(`\`cacheDigest.cookieName\` ${JSON.stringify(config.cookieName)} is not a valid cookie name (letters, digits, and !#$%&'*+-.^_\`|~)`)
  }
  if (config.maxAge > 400 * 24 * 3600) throw optionError(`\`cacheDigest.maxAge\` is in seconds and at most 400 days (34560000), got ${config.maxAge}`)
  if (!(config.falsePositiveRate > 0 && config.falsePositiveRate <= 0.5)) {
    throw optionError(`\`cacheDigest.falsePositiveRate\` must be above 0 and at most 0.5 (1/128 = 0.0078125), got ${config.falsePositiveRate}`)
  }
  const shape = digestShape(config.falsePositiveRate, config.capacity)
  if (shape.p + shape.capacityLog > 30) throw optionError('`cacheDigest`: capacity / falsePositiveRate above 2^30 are not supported')
  return { cookieName: config.cookieName, maxAge: config.maxAge, shape }
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function inheritedHeaderNames(option: readonly string[] | undefined): ReadonlySet<string> {
  if (option === undefined) return new Set(DEFAULT_INHERITED_HEADERS)
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
