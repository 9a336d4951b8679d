/**
 * The request path of the push middleware: for the manifest entries of one request,
 * decide push or hint, produce the pushed responses, promise them (every
 * PUSH_PROMISE before the response's HEADERS), hint the rest; once the response's
 * status is known, send the pushed responses (a success) or withdraw them (>= 400, 304).
 *
 * Every await here is a point where the client may reset the stream, close the socket
 * or send the same request again: what is shared (the connection's diary and budget)
 * is reserved before the first await, and no promise is ever left without a handler
 * while another is awaited (each is turned into a result that cannot reject).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import type { Request, Response } from 'express'
import createDebug from 'debug'
import { pushRequestHeaders, respondInTurn, type Pusher, type PushOutcome, type PushStream } from '../transports/pusher.js'
import { getPusher } from '../transports/get-pusher.js'
import type { CompiledEntry } from '../manifest/load.js'
import type { PushEvent, SkipReason } from './events.js'
import { loadDispatched, type FileSource, type LoadResult, type PushableResponse } from './sources.js'
import { canDispatch } from './dispatch.js'
import { sendEarlyHints, type EarlyHintsMode } from '../transports/early-hints.js'
import onHeaders from 'on-headers'
import { askEdge } from './edge.js'
import { decideEntries, refusalOf } from './decide.js'
import type { ConnectionBudgets, Reservation } from './connection-budget.js'
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
  /** This middleware's files under `root` and what it keeps of them. */
  readonly files: FileSource
  /** ms a file's stat (headers, body) is reused between pushes. */
  readonly fileRecheckMs: number
  readonly dispatchTimeout: number
  readonly earlyHints: EarlyHintsMode
  /** Entries remembered per connection. */
  readonly diarySize: number
  /** Pushed streams in flight per connection. */
  readonly maxPushesPerConnection: number
  /** Body bytes of pushes in flight per connection. */
  readonly maxPushBytesPerConnection: number
  /** HTTP/1.1 requests come from an edge that pushes what the Link header lists (`askEdge`). */
  readonly behindProxy: boolean
  /** Headers of the parent response (lower case) that pushed responses inherit when set before the middleware runs. */
  readonly inheritHeaders: ReadonlySet<string>
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

export function readDigest(req: Request, settings: PushSettings): DigestState | undefined {
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

export function inheritedHeaders(res: Response, names: ReadonlySet<string>): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(res.getHeaders())) {
    if (names.has(name) && value !== undefined) headers[name] = value
  }
  return headers
}

/** Pushes go with a response that succeeded: not with an error (>= 400) nor a 304 (as Apache's mod_http2). */
export function pushableParentStatus(status: number): boolean {
  return status < 400 && status !== 304
}

/** A promise turned into a result that never rejects: safe to hold while other work is awaited. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: Error }

export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error: error instanceof Error ? error : new Error(String(error)) }),
  )
}

export function skip(report: Report, hints: string[] | undefined, entry: PreparedEntry, parent: string, reason: SkipReason, detail?: string): void {
  debug('skip %s for %s: %s%s', entry.url, parent, reason, detail ? ` (${detail})` : '')
  report(detail === undefined ? { type: 'skipped', url: entry.url, parent, reason } : { type: 'skipped', url: entry.url, parent, reason, detail })
  hints?.push(entry.link)
}

/** Produces the pushed response of one entry; never rejects. */
export async function load(entry: PreparedEntry, req: Request, requestHeaders: IncomingHttpHeaders, settings: PushSettings): Promise<LoadResult> {
  try {
    if (entry.file !== undefined) {
      const file = await settings.files.load(entry.file, settings.cacheControl, settings.fileRecheckMs)
      if (file) return { ok: true, response: file }
    }
    // URLs are absolute paths on the origin: dispatch through the top app, not a mounted sub-app.
    let app: unknown = req.app
    while ((app as { parent?: unknown } | undefined)?.parent) app = (app as { parent: unknown }).parent
    if (!canDispatch(app)) {
      return { ok: false, reason: 'error', detail: 'no file under root, and only an Express 5 app can produce a push by dispatch' }
    }
    const headers = { ...requestHeaders, host: req.headers.host ?? String(req.headers[':authority'] ?? 'localhost') }
    return await loadDispatched(app, entry.url, headers, req.socket?.remoteAddress, settings.dispatchTimeout)
  } catch (err) {
    return { ok: false, reason: 'error', detail: (err as Error).message }
  }
}

interface Planned {
  readonly entry: PreparedEntry
  readonly reservation: Reservation
  readonly load: Promise<LoadResult>
}

interface Promised {
  readonly entry: PreparedEntry
  readonly reservation: Reservation
  readonly key: string
  readonly response: PushableResponse
  readonly stream: Promise<Settled<PushStream>>
}

export interface Ready {
  readonly entry: PreparedEntry
  readonly reservation: Reservation
  readonly key: string
  readonly response: PushableResponse
  readonly stream: PushStream
}

/**
 * Plans and promises the pushes of one request. Resolves, once every PUSH_PROMISE is
 * queued and the hints are sent, after which the route runs (`next()`); the pushed
 * responses go out when the route's response writes a success status, and are reset
 * when it writes an error or a 304, or closes first.
 */
export interface PushEntriesOptions {
  /** URLs this request has decided on already (pushed or skipped): each is decided once. */
  readonly handled?: Set<string>
  /** Send a 103 and the Link header for what is not pushed. Default true; false when the app sent its own hints. */
  readonly hints?: boolean
  /**
   * Hold the pushed responses until the response's status is known (then send them on a
   * success, reset them otherwise). Default true; false sends them at once, for links the
   * app itself committed to (`res.writeEarlyHints()` during its think time).
   */
  readonly waitForStatus?: boolean
}

export async function pushEntries(
  req: Request,
  res: Response,
  candidates: readonly PreparedEntry[],
  settings: PushSettings,
  budgets: ConnectionBudgets,
  report: Report,
  options: PushEntriesOptions = {},
): Promise<void> {
  const parent = req.path
  const handled = options.handled
  const entries = handled ? candidates.filter((entry) => !handled.has(entry.url)) : candidates
  if (handled) for (const entry of entries) handled.add(entry.url)
  const hints: string[] = []
  const pusher: Pusher | undefined = req.method === 'GET' ? getPusher(res) : undefined
  if (settings.behindProxy && !pusher && req.method === 'GET' && req.httpVersionMajor < 2) return askEdge(req, res, entries, settings, report)
  const budget = pusher ? budgets.for(pusher.connection) : undefined
  const reserved: Array<{ entry: PreparedEntry; reservation: Reservation }> = []
  for (const decision of decideEntries(req, entries, settings, budget)) {
    if ('push' in decision) reserved.push({ entry: decision.entry, reservation: decision.push })
    else skip(report, decision.skip.hint ? hints : undefined, decision.entry, parent, decision.skip.reason, decision.skip.detail)
  }

  const reservations = new Set<Reservation>()
  const ready: Ready[] = []
  let parentClosed = false
  if (reserved.length > 0) {
    // Whatever is still reserved and not sending when the response closes goes back to the
    // connection, and a produced body never taken is released (its file closed): the
    // response may close before its status is known, and then no push is ever sent.
    res.once('close', () => {
      parentClosed = true
      for (const reservation of reservations) reservation.release()
      for (const { response } of ready) response.release?.()
    })
  }
  const requestHeaders = pusher && reserved.length > 0 ? pushRequestHeaders('/', req.headers, undefined) : {}
  const planned: Planned[] = reserved.map(({ entry, reservation }) => {
    reservations.add(reservation)
    return { entry, reservation, load: load(entry, req, requestHeaders, settings) }
  })
  const dropped = (reservation: Reservation): void => {
    reservations.delete(reservation)
    reservation.release()
  }

  const promised: Promised[] = []
  const digest = planned.length > 0 ? readDigest(req, settings) : undefined
  if (pusher && budget && planned.length > 0) {
    // Not capped at the client's flow-control window: what goes past it is paced by its
    // WINDOW_UPDATEs, which is what flow control is for (a client that stops reading is
    // bounded by pushTimeout and maxPushBytesPerConnection).
    let bytesLeft = settings.maxPushBytes
    const inherited = inheritedHeaders(res, settings.inheritHeaders)
    for (const { entry, reservation, load: loading } of planned) {
      const result = await loading
      if (parentClosed) {
        if (result.ok) result.response.release?.()
        dropped(reservation)
        continue
      }
      if (!result.ok) {
        skip(report, result.reason === 'not-found' || result.reason === 'status' ? undefined : hints, entry, parent, result.reason, result.detail)
        dropped(reservation)
        continue
      }
      const { response } = result
      const key = cacheKey(entry.url, response.headers['etag'], response.headers['last-modified'])
      const refusal = refusalOf(key, response.size, {
        budget,
        digestHas: digest?.honoured ? (k) => digest.digest.has(k) : undefined,
        bytesLeft,
        reservation,
        maxPushBytesPerConnection: settings.maxPushBytesPerConnection,
      })
      if (refusal) {
        response.release?.()
        skip(report, refusal.hint ? hints : undefined, entry, parent, refusal.reason, refusal.detail)
        dropped(reservation)
        continue
      }
      if (res.headersSent) {
        // The response went out meanwhile: a promise now would follow its HEADERS.
        response.release?.()
        skip(report, undefined, entry, parent, 'refused', 'the response was sent before the push could be promised')
        dropped(reservation)
        continue
      }
      bytesLeft -= response.size
      // In the diary from the moment it is promised: a concurrent request that gets here later skips it.
      budget.diary.add(key)
      const headers = { ...inherited, ...response.headers }
      promised.push({
        entry,
        reservation,
        key,
        response: { ...response, headers },
        stream: settle(pusher.push(entry.url, { requestHeaders, timeout: settings.pushTimeout })),
      })
    }
  }

  for (const { entry, reservation, key, response, stream } of promised) {
    const result = await stream
    if (!result.ok) {
      response.release?.()
      budget!.diary.delete(key)
      skip(report, hints, entry, parent, 'refused', result.error.message)
      dropped(reservation)
      continue
    }
    ready.push({ entry, reservation, key, response, stream: result.value })
    if (digest) {
      // A full digest starts again with what is pushed now.
      if (!digest.digest.add(key)) {
        digest.digest = new CacheDigest(digest.digest.shape)
        digest.digest.add(key)
      }
      digest.dirty = true
    }
  }

  if (options.hints === false) hints.length = 0
  if (hints.length > 0 && !res.headersSent && !parentClosed) {
    if (sendEarlyHints(res, hints, settings.earlyHints)) debug('103 Early Hints for %s: %s', parent, hints.join(', '))
  }
  if (parentClosed) {
    for (const { reservation, response } of ready) {
      response.release?.()
      dropped(reservation)
    }
    return
  }
  if (res.headersSent) {
    // Another middleware answered while this one awaited: nothing can go before its HEADERS any more.
    for (const { stream, reservation, response } of ready) {
      response.release?.()
      stream.cancel()
      dropped(reservation)
    }
    return
  }
  if (ready.length === 0 && hints.length === 0 && !digest?.dirty) return
  if (options.waitForStatus === false && ready.length > 0) {
    sendPushes(ready, parent, report, reservations)
    ready.length = 0
  }
  onHeaders(res, function pushesFollowTheStatus(this: Response) {
    const success = pushableParentStatus(this.statusCode)
    const config = settings.cacheDigest
    if (success && digest?.dirty && config) {
      this.append(
        'Set-Cookie',
        serializeCookie(config.cookieName, digest.digest.encode(), { secure: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: config.maxAge }),
      )
    }
    if (success && settings.preloadHeader && hints.length > 0) this.append('Link', hints.join(', '))
    if (ready.length === 0) return
    if (!success) {
      const status = this.statusCode
      for (const { entry, reservation, key, response } of ready) {
        response.release?.()
        budget!.diary.delete(key)
        dropped(reservation)
        skip(report, undefined, entry, parent, 'parent-status', `the response is ${status}`)
      }
      // Reset before this response's own HEADERS are submitted.
      for (const { stream } of ready) stream.cancel()
      return
    }
    // After this response's own HEADERS: the pushed responses follow it on the wire.
    process.nextTick(sendPushes, ready, parent, report, reservations)
  })
}

/**
 * Sends the pushed responses: every HEADERS now, the bodies one after another in this order
 * (most critical first), each once the one before is handed to the transport, so that each
 * stylesheet arrives whole before the next one starts instead of all finishing last.
 */
export function sendPushes(ready: readonly Ready[], parent: string, report: Report, reservations: Set<Reservation>): void {
  let previous: Promise<void> | undefined
  for (const { entry, stream, response, reservation } of ready) {
    // Sending: held until the push's own stream closes, whatever the parent does.
    reservations.delete(reservation)
    debug('push %s for %s (stream %d, %d bytes)', entry.url, parent, stream.id, response.size)
    let body
    try {
      body = response.body()
    } catch (err) {
      response.release?.()
      stream.cancel()
      reservation.release()
      report({ type: 'cancelled', url: entry.url, parent, bytes: 0, reason: (err as Error).message })
      continue
    }
    let closed: Promise<PushOutcome>
    if (stream[respondInTurn]) {
      const sent = stream[respondInTurn](200, response.headers, body, previous)
      closed = sent.outcome
      previous = sent.written
    } else {
      closed = stream.respond(200, response.headers, body)
    }
    void closed.then((outcome) => {
      // A stream closed before its response (reset, client gone) never read the body: close its file.
      if (body instanceof Readable) body.destroy()
      reservation.release()
      report(
        outcome.status === 'sent'
          ? { type: 'pushed', url: entry.url, parent, bytes: outcome.bytes }
          : { type: 'cancelled', url: entry.url, parent, bytes: outcome.bytes, reason: outcome.reason ?? 'cancelled' },
      )
    })
  }
}
