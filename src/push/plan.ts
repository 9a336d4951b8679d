/**
 * The request path of the push middleware: for the manifest entries of one request,
 * decide push or hint, produce the pushed responses, promise them (every
 * PUSH_PROMISE before the response's HEADERS), set the Link header for the rest.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import type { Request, Response } from 'express'
import createDebug from 'debug'
import { getPusher, pushRequestHeaders, type Pusher, type PushStream } from '../transports/pusher.js'
import type { CompiledEntry } from '../manifest/load.js'
import type { PushEvent, SkipReason } from './events.js'
import { loadDispatched, loadFile, type LoadResult, type PushableResponse } from './sources.js'
import { canDispatch } from './dispatch.js'
import { sendEarlyHints, type EarlyHintsMode } from '../transports/early-hints.js'
import { diaryFor } from '../cache/diary.js'
import { cacheKey, CacheDigest, type DigestShape } from '../cache/digest.js'
import { parse as parseCookies, serialize as serializeCookie } from 'cookie'

const debug = createDebug('express-h2-push:push')

export interface PreparedEntry extends CompiledEntry {
  /** The file under `root` that serves this URL, when one may. */
  readonly file: string | undefined
  /** A dotfile URL, never pushed nor preloaded (the `dotfiles` option). */
  readonly dotfile: boolean
}

export interface PushSettings {
  readonly maxPushesPerResponse: number
  readonly maxPushBytes: number
  readonly preloadHeader: boolean
  readonly cacheControl: string
  /** ms a file's stat (headers, body) is reused between pushes. */
  readonly fileRecheckMs: number
  readonly dispatchTimeout: number
  readonly earlyHints: EarlyHintsMode
  /** Entries remembered per connection. */
  readonly diarySize: number
  /** ms without progress before a pushed stream is reset. */
  readonly pushTimeout: number
  /** The cache digest cookie, or false for none. */
  readonly cacheDigest: false | { readonly cookieName: string; readonly maxAge: number; readonly shape: DigestShape }
}

/** A hard reload (Cache-Control / Pragma: no-cache) asks for everything again. */
function hardReload(headers: IncomingHttpHeaders): boolean {
  return /(^|[\s,])no-cache([\s,]|$)/i.test(String(headers['cache-control'] ?? '')) || /no-cache/i.test(String(headers['pragma'] ?? ''))
}

interface DigestState {
  digest: CacheDigest
  /** The cookie must be (re)written: something was added, or the one sent was not a digest. */
  dirty: boolean
  /** Whether to skip what the digest lists (not on a hard reload). */
  honoured: boolean
}

function readDigest(req: Request, settings: PushSettings): DigestState | undefined {
  const config = settings.cacheDigest
  if (!config) return undefined
  let raw: string | undefined
  try {
    raw = req.headers.cookie ? parseCookies(req.headers.cookie)[config.cookieName] : undefined
  } catch {
    raw = ''
  }
  const decoded = raw === undefined ? undefined : CacheDigest.decode(raw, config.shape)
  return { digest: decoded ?? new CacheDigest(config.shape), dirty: raw !== undefined && decoded === undefined, honoured: !hardReload(req.headers) }
}

export type Report = (event: PushEvent) => void

/** Headers of the parent that describe the parent itself, not the origin's policy: never copied onto pushes. */
const NOT_INHERITED = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'content-language',
  'content-range',
  'content-disposition',
  'etag',
  'last-modified',
  'cache-control',
  'expires',
  'vary',
  'link',
  'location',
  'set-cookie',
  'age',
  'date',
])

/** The origin-wide headers already on the parent (helmet's, when it runs first). */
function inheritedHeaders(res: Response): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (!NOT_INHERITED.has(name) && value !== undefined) headers[name] = value
  }
  return headers
}

interface Planned {
  entry: PreparedEntry
  load: Promise<LoadResult>
}

function skip(report: Report, hints: string[] | undefined, entry: PreparedEntry, parent: string, reason: SkipReason, detail?: string): void {
  debug('skip %s for %s: %s%s', entry.url, parent, reason, detail ? ` (${detail})` : '')
  report(detail === undefined ? { type: 'skipped', url: entry.url, parent, reason } : { type: 'skipped', url: entry.url, parent, reason, detail })
  hints?.push(entry.link)
}

async function load(
  entry: PreparedEntry,
  req: Request,
  requestHeaders: IncomingHttpHeaders,
  settings: PushSettings,
): Promise<LoadResult> {
  if (entry.file !== undefined) {
    const file = await loadFile(entry.file, settings.cacheControl, settings.fileRecheckMs)
    if (file) return { ok: true, response: file }
  }
  // URLs are absolute paths on the origin: dispatch through the top app, not a mounted sub-app.
  let app: unknown = req.app
  while ((app as { parent?: unknown } | undefined)?.parent) app = (app as { parent: unknown }).parent
  if (!canDispatch(app)) {
    return { ok: false, reason: 'error', detail: 'no file under root, and only an Express 5 app can produce a push by dispatch' }
  }
  const headers = { ...requestHeaders, host: req.headers.host ?? String(req.headers[':authority'] ?? 'localhost') }
  return loadDispatched(app, entry.url, headers, req.socket?.remoteAddress, settings.dispatchTimeout)
}

/**
 * Plans and promises the pushes of one request. Resolves, once every PUSH_PROMISE is
 * queued and the Link header set, to a function that sends the pushed responses
 * (call it after the route has been started with `next()`).
 */
export async function pushEntries(
  req: Request,
  res: Response,
  entries: readonly PreparedEntry[],
  settings: PushSettings,
  report: Report,
): Promise<() => void> {
  const parent = req.path
  const hints: string[] = []
  const pusher: Pusher | undefined = req.method === 'GET' ? getPusher(res) : undefined
  const requestHeaders = pusher ? pushRequestHeaders('/', req.headers, undefined) : {}
  const planned: Planned[] = []
  for (const entry of entries) {
    if (entry.dotfile) skip(report, undefined, entry, parent, 'dotfile', 'a dotfile (the `dotfiles` option)')
    else if (entry.nopush) skip(report, hints, entry, parent, 'nopush')
    else if (!pusher) skip(report, hints, entry, parent, req.method === 'GET' ? 'push-unsupported' : 'method')
    else if (entry.url === req.originalUrl || entry.url === req.path) skip(report, undefined, entry, parent, 'same-url')
    else if (planned.length >= settings.maxPushesPerResponse) skip(report, hints, entry, parent, 'limit')
    else planned.push({ entry, load: load(entry, req, requestHeaders, settings) })
  }

  const promised: Array<{ entry: PreparedEntry; stream: Promise<PushStream>; response: PushableResponse; key: string }> = []
  const diary = pusher && planned.length > 0 ? diaryFor(pusher.connection, settings.diarySize) : undefined
  const digest = pusher && planned.length > 0 ? readDigest(req, settings) : undefined
  if (pusher && diary && planned.length > 0) {
    let budget = Math.min(settings.maxPushBytes, pusher.remoteWindow())
    const inherited = inheritedHeaders(res)
    for (const { entry, load: loading } of planned) {
      const result = await loading
      if (!result.ok) {
        skip(report, result.reason === 'not-found' || result.reason === 'status' ? undefined : hints, entry, parent, result.reason, result.detail)
        continue
      }
      const key = cacheKey(entry.url, result.response.headers['etag'], result.response.headers['last-modified'])
      if (diary.has(key)) {
        result.response.release?.()
        skip(report, hints, entry, parent, 'cached', 'pushed before on this connection')
        continue
      }
      if (digest?.honoured && digest.digest.has(key)) {
        result.response.release?.()
        skip(report, hints, entry, parent, 'cached', 'listed in the cache digest cookie')
        continue
      }
      if (result.response.size > budget) {
        result.response.release?.()
        skip(report, hints, entry, parent, 'bytes', `${result.response.size} bytes, ${budget} left`)
        continue
      }
      budget -= result.response.size
      const response = { ...result.response, headers: { ...inherited, ...result.response.headers } }
      const stream = pusher.push(entry.url, { requestHeaders, timeout: settings.pushTimeout })
      stream.catch(() => {}) // awaited below, after the loads still pending: a refusal meanwhile is not unhandled
      promised.push({ entry, stream, response, key })
    }
  }

  const ready: Array<{ entry: PreparedEntry; stream: PushStream; response: PushableResponse }> = []
  for (const { entry, stream, response, key } of promised) {
    try {
      ready.push({ entry, stream: await stream, response })
    } catch (err) {
      response.release?.()
      skip(report, hints, entry, parent, 'refused', (err as Error).message)
      continue
    }
    diary!.add(key)
    if (digest) {
      // A full digest starts again with what is pushed now.
      if (!digest.digest.add(key)) {
        digest.digest = new CacheDigest(digest.digest.shape)
        digest.digest.add(key)
      }
      digest.dirty = true
    }
  }
  const config = settings.cacheDigest
  if (digest?.dirty && config && !res.headersSent) {
    res.append(
      'Set-Cookie',
      serializeCookie(config.cookieName, digest.digest.encode(), { secure: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: config.maxAge }),
    )
  }
  if (hints.length > 0 && !res.headersSent) {
    const link = hints.join(', ')
    if (sendEarlyHints(res, hints, settings.earlyHints)) debug('103 Early Hints for %s: %s', parent, link)
    if (settings.preloadHeader) res.append('Link', link)
  }

  return function sendPushes() {
    for (const { entry, stream, response } of ready) {
      debug('push %s for %s (stream %d, %d bytes)', entry.url, parent, stream.id, response.size)
      const body = response.body()
      void stream.respond(200, response.headers, body).then((outcome) => {
        // A stream closed before its response (reset, client gone) never read the body: close its file.
        if (body instanceof Readable) body.destroy()
        report(
          outcome.status === 'sent'
            ? { type: 'pushed', url: entry.url, parent, bytes: outcome.bytes }
            : { type: 'cancelled', url: entry.url, parent, bytes: outcome.bytes, reason: outcome.reason ?? 'cancelled' },
        )
      })
    }
  }
}
