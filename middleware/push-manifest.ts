/**
 * pushManifest(): the middleware users mount. It reads a per-route JSON push
 * manifest once (and again on edits, when watching), and for each matching GET
 * pushes the route's resources before the route's own response, or sends
 * `Link: rel=preload` where the client cannot take a push. Its options, their defaults
 * and checks are in src/options/push-manifest.ts; the push engine in src/push/.
 */
import { statSync } from 'node:fs'
import { extname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import createDebug from 'debug'
import { PushManifestError, WarningCodes } from '../src/errors.js'
import { optionError, resolveOptions, type PushManifestOptions, type ResolvedOptions } from '../src/options/push-manifest.js'
import { compileManifest, loadManifestFile, OBJECT_SOURCE, type CompiledEntry, type CompiledManifest } from '../src/manifest/load.js'
import { createRouteTable, type RouteTable } from '../src/manifest/match.js'
import { watchFile } from '../src/manifest/watch.js'
import { fileUnderRoot, namesDotfile, type Dotfiles } from '../src/push/sources.js'
import { isDispatched } from '../src/push/dispatch.js'
import { HintFreshness, observingHints } from '../src/push/hint-freshness.js'
import { emptyStats, type PushEvent, type PushStats } from '../src/push/events.js'
import { pushEntries } from '../src/push/push-entries.js'
import type { PreparedEntry, PushEngine, Report } from '../src/push/settings.js'
import { ConnectionBudgets } from '../src/push/connection-budget.js'
import { linkEntry, pushNamedLinks, type LinkPushContext } from '../src/push/app-links.js'
import { getPusher } from '../src/transports/get-pusher.js'

export type { CacheDigestOptions, PushManifestOptions } from '../src/options/push-manifest.js'

const debug = createDebug('express-h2-push:manifest')

export interface PushManifestMiddleware extends RequestHandler {
  /** Counters since start: pushed, bytes, cancelled, skipped by reason. */
  readonly stats: Readonly<PushStats>
  /** Reloads the manifest file now (what `watch` does on a change). Throws on an invalid manifest, keeping the last good one. */
  reload(): void
  /** Stops watching the manifest file. */
  close(): void
}

function looksLikeRequest(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'method' in value && 'headers' in value && 'socket' in value
}

/**
 * Pushes what a JSON push manifest lists for each route, before the route answers;
 * where the client cannot take a push, sends `Link: rel=preload` instead. Every option,
 * its default and an example: docs/options.md.
 *
 * @param options.manifest The manifest file (or object): `{ "/route": { "/url": { "type": "style" } } }`.
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
  const resolved = resolveOptions(options)
  const { source, settings } = resolved
  const file = typeof source === 'string' ? resolve(source) : source instanceof URL ? fileURLToPath(source) : undefined
  const root = rootFolder(resolved.root)
  const stats = emptyStats()
  const engine: PushEngine = { settings, budgets: new ConnectionBudgets(settings), report: counting(stats, resolved.onEvent) }
  const freshness = resolved.warnStaleHints ? new HintFreshness() : undefined
  const prepare = preparing(resolved, root, freshness)
  const load = (): CompiledManifest => (file === undefined ? compileManifest(source, OBJECT_SOURCE, settings) : loadManifestFile(file, settings))

  let table = prepare(load())
  const reload = (): void => {
    table = prepare(load())
    debug('reloaded %s', file ?? OBJECT_SOURCE)
    engine.report({ type: 'reloaded', file: file ?? OBJECT_SOURCE })
  }
  const stopWatching = resolved.watch && file !== undefined ? watchManifest(file, reload, engine.report) : () => {}
  const linkPush = resolved.linkPush ? linkPushContext(engine, resolved.dotfiles, root) : undefined

  const pushThen = async (req: Request, res: Response, next: NextFunction, entries: readonly PreparedEntry[], handled: Set<string> | undefined) => {
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

/** `root`, resolved, when it is a folder. */
function rootFolder(given: string | undefined): string | undefined {
  if (given === undefined) return undefined
  const root = resolve(given)
  let isDirectory = false
  try {
    isDirectory = statSync(root).isDirectory()
  } catch {
    // reported below
  }
  if (!isDirectory) throw optionError(`\`root\` ${JSON.stringify(given)} is not a folder (resolved to ${root})`)
  return root
}

/** Counts every event into `stats`, then hands it to `onEvent`. */
function counting(stats: PushStats, onEvent: ((event: PushEvent) => void) | undefined): Report {
  return (event) => {
    if (event.type === 'pushed') {
      stats.pushed++
      stats.bytes += event.bytes
    } else if (event.type === 'asked-edge') stats.askedEdge++
    else if (event.type === 'cancelled') stats.cancelled++
    else if (event.type === 'skipped') stats.skipped[event.reason]++
    onEvent?.(event)
  }
}

/** Turns a compiled manifest into the route table requests look up: each entry with its file under `root` and dotfile flag. */
function preparing(resolved: ResolvedOptions, root: string | undefined, freshness: HintFreshness | undefined) {
  const { dotfiles } = resolved
  const warned = new Set<string>()
  return (compiled: CompiledManifest): RouteTable<PreparedEntry> => {
    freshness?.update(compiled, (url) => dotfiles === 'allow' || !namesDotfile(url))
    return createRouteTable(
      compiled.routes.map((route) => ({
        matcher: route.matcher,
        entries: route.entries.map((entry) => {
          const dotfile = dotfiles !== 'allow' && namesDotfile(entry.url)
          if (dotfile) warnDotfile(compiled.file, entry, dotfiles, warned)
          const file = root === undefined ? undefined : fileUnderRoot(root, entry.url, dotfiles)
          const missing = file !== undefined && isMissingFile(file)
          if (missing) warnMissingFile(compiled.file, entry, root!, file, warned)
          return { ...entry, dotfile, file, missing }
        }),
      })),
    )
  }
}

/** Reloads on each change of the file; an invalid edit keeps the last good manifest. */
function watchManifest(file: string, reload: () => void, report: Report): () => void {
  return watchFile(file, () => {
    try {
      reload()
    } catch (err) {
      if (!(err instanceof PushManifestError)) throw err
      console.error(`express-h2-push: ${err.message} (the last good manifest stays in force)`)
      report({ type: 'reload-failed', file, error: err })
    }
  })
}

/** What pushing the app's own links needs: the engine, and how a link becomes an entry. */
function linkPushContext(engine: PushEngine, dotfiles: Dotfiles, root: string | undefined): LinkPushContext {
  return {
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
}

/** A URL that names a file (it has an extension) with no file there. Folder-like and extensionless URLs may be the app's routes. */
function isMissingFile(file: string): boolean {
  if (extname(file) === '') return false
  try {
    return !statSync(file).isFile()
  } catch {
    return true
  }
}

/** Once per manifest entry: a file URL with no file under `root`. */
function warnMissingFile(manifestFile: string, entry: CompiledEntry, root: string, file: string, warned: Set<string>): void {
  const where = `${manifestFile} at ${entry.pointer}`
  if (warned.has(`missing ${where}`)) return
  warned.add(`missing ${where}`)
  process.emitWarning(
    `push manifest ${where}: ${JSON.stringify(entry.url)} names no file under root (${JSON.stringify(root)}): ${file} is not there. ` +
      'It is pushed only if the app answers it with a 200, and is not hinted (103, Link) to clients that cannot take a push, as a preload of a 404 would be. ' +
      'Fix: correct the URL or the `root` option, build the file before the server starts (then reload the manifest), or remove the entry',
    { type: 'H2PushWarning', code: WarningCodes.H2PUSH_MANIFEST_MISSING_FILE },
  )
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
