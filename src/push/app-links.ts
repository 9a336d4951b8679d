/**
 * Push what the app itself names, as H2O, Apache and nginx do: the `Link: rel=preload`
 * values of a response's own headers, and those of `res.writeEarlyHints()`. The same
 * engine as manifest pushes (limits, the connection's diary and budget, the digest,
 * skip reasons, events, nothing for a response that is not a success); `nopush` links
 * are not pushed.
 *
 * - `res.writeEarlyHints({ link })`: the 103 goes out as asked, and its links are
 *   pushed at once, during the route's think time: promised before its HEADERS, and
 *   sent without waiting for its status (the app committed to them by hinting them).
 * - The response's `Link` header: read just before its HEADERS are written; each link is
 *   promised then (so its PUSH_PROMISE precedes the HEADERS), produced meanwhile, and
 *   sent once produced. Its body is not known yet when it is promised, so what the diary
 *   or the digest already holds is known by the key its URL had last time; a push found
 *   cached once produced is reset. The digest cookie cannot record these pushes (the
 *   response's headers are gone by then); the connection's diary does.
 */
import type { Request, Response } from 'express'
import onHeaders from 'on-headers'
import createDebug from 'debug'
import { pushRequestHeaders, type Pusher, type PushStream } from '../transports/pusher.js'
import { cacheKey } from '../cache/digest.js'
import { preloadLink } from '../manifest/link.js'
import { preloadLinks, type PreloadLink } from './read-link-header.js'
import type { ConnectionBudget, Reservation } from './connection-budget.js'
import { cachedSkip, entrySkip, pushableParentStatus, refusalOf, reserve, reserved, SKIP, type Skip } from './decide.js'
import { digestLookup, readDigest } from './digest-cookie.js'
import { inheritedHeaders } from './inherited-headers.js'
import { load, settle, type Settled } from './produce.js'
import { pushEntries } from './push-entries.js'
import { RequestPush } from './request-push.js'
import { sendPushes } from './send.js'
import type { PreparedEntry, PushEngine } from './settings.js'
import type { LoadResult } from './sources.js'

const debug = createDebug('express-h2-push:push')

/** Turns a link into the entry the push engine takes; undefined for a target off this origin. */
export type LinkToEntry = (link: PreloadLink) => PreparedEntry | undefined

export interface LinkPushContext extends PushEngine {
  readonly toEntry: LinkToEntry
  /** The key each URL had when last produced (URL + ETag): what a promise made before producing it is checked against. */
  readonly lastKeys: Map<string, string>
}

const LAST_KEYS_KEPT = 1024

function entriesOf(header: unknown, toEntry: LinkToEntry): PreparedEntry[] {
  const entries: PreparedEntry[] = []
  for (const link of preloadLinks(header)) {
    const entry = toEntry(link)
    if (entry) entries.push(entry)
  }
  return entries
}

/**
 * Watches one response for the links the app names: `writeEarlyHints` and the `Link`
 * header. `handled` holds the URLs the manifest (or an earlier hint) decided on already.
 */
export function pushNamedLinks(req: Request, res: Response, pusher: Pusher, handled: Set<string>, context: LinkPushContext): void {
  const writeEarlyHints = res.writeEarlyHints as ((hints: Record<string, string | string[]>, callback?: () => void) => void) | undefined
  if (typeof writeEarlyHints === 'function') {
    res.writeEarlyHints = function writeEarlyHintsAndPush(this: Response, hints: Record<string, string | string[]>, callback?: () => void): void {
      writeEarlyHints.call(this, hints, callback)
      const entries = entriesOf(hints?.['link'] ?? hints?.['Link'], context.toEntry)
      if (entries.length === 0 || res.headersSent) return
      pushEntries(context, req, res, entries, { handled, hints: false, waitForStatus: false }).catch((err: Error) => {
        debug('push of the early hints of %s failed: %s', req.path, err.message)
      })
    } as Response['writeEarlyHints']
  }
  onHeaders(res, function pushHeaderLinks(this: Response) {
    const entries = entriesOf(this.getHeader('link'), context.toEntry).filter((entry) => !handled.has(entry.url))
    if (entries.length === 0) return
    for (const entry of entries) handled.add(entry.url)
    if (!pushableParentStatus(this.statusCode)) return
    promiseNow(new LinkPush(req, this, pusher, context), entries)
  })
}

/** A link's push, promised before its response is produced. */
interface PromisedLink {
  readonly entry: PreparedEntry
  readonly reservation: Reservation
  readonly stream: Promise<Settled<PushStream>>
  readonly load: Promise<LoadResult>
}

/**
 * Whether a link may be promised before its response is produced: the rules on the entry,
 * this response's count, what its URL's last key says the client has, the connection's budget.
 */
function linkOutcome(push: LinkPush, entry: PreparedEntry, promised: number): Reservation | Skip {
  const { settings } = push
  const last = push.context.lastKeys.get(entry.url)
  return (
    entrySkip(entry, push.req, { push: true, conditional: false }) ??
    (promised >= settings.maxPushesPerResponse ? SKIP.responseLimit(settings.maxPushesPerResponse) : undefined) ??
    (last === undefined ? undefined : cachedSkip(last, push.budget, push.digestHas)) ??
    reserve(entry, push.budget, settings.maxPushesPerConnection)
  )
}

/** One response's link pushes: promised as its HEADERS are written, sent as each is produced. */
class LinkPush extends RequestPush {
  readonly budget: ConnectionBudget
  readonly digestHas: ((key: string) => boolean) | undefined

  constructor(
    req: Request,
    res: Response,
    readonly pusher: Pusher,
    readonly context: LinkPushContext,
  ) {
    super(req, res, context, { hints: false })
    this.budget = context.budgets.for(pusher.connection)
    this.digestHas = digestLookup(readDigest(req, context.settings))
  }
}

/** Promises `entries` now, synchronously (before the response's HEADERS), then produces and sends each. */
function promiseNow(push: LinkPush, entries: readonly PreparedEntry[]): void {
  const { req, settings, pusher } = push
  const requestHeaders = pushRequestHeaders('/', req.headers, undefined)
  const promised: PromisedLink[] = []
  for (const entry of entries) {
    const outcome = linkOutcome(push, entry, promised.length)
    if (!reserved(outcome)) {
      push.skip(entry, outcome)
      continue
    }
    promised.push({
      entry,
      reservation: outcome,
      // The PUSH_PROMISE is submitted now, ahead of the HEADERS about to be written.
      // keepAfterParent: a small response closes before its pushes are produced; they are answered all the same.
      stream: settle(pusher.push(entry.url, { requestHeaders, timeout: settings.pushTimeout, keepAfterParent: true })),
      load: load(entry, req, requestHeaders, settings),
    })
  }
  if (promised.length === 0) return
  sendProduced(push, promised).catch((err: Error) => debug('push of the Link header of %s failed: %s', push.parent, err.message))
}

/** Each promised link, once produced: sent, or reset with its skip. */
async function sendProduced(push: LinkPush, promised: readonly PromisedLink[]): Promise<void> {
  const { settings, parent, report, budget, digestHas } = push
  const inherited = inheritedHeaders(push.res, settings.inheritHeaders)
  let bytesLeft = settings.maxPushBytes
  for (const { entry, reservation, stream, load: loading } of promised) {
    const [promise, result] = await Promise.all([stream, loading])
    let refusal: Skip | undefined
    if (!promise.ok) refusal = SKIP.refused(promise.error.message)
    else if (!result.ok) refusal = SKIP.notProduced(result.reason, result.detail)
    else {
      const key = cacheKey(entry.url, result.response.headers['etag'], result.response.headers['last-modified'])
      rememberKey(push.context.lastKeys, entry.url, key)
      refusal = refusalOf(key, result.response.size, {
        budget,
        digestHas,
        bytesLeft,
        reservation,
        maxPushBytesPerConnection: settings.maxPushBytesPerConnection,
      })
      if (!refusal) {
        const { response } = result
        bytesLeft -= response.size
        budget.diary.add(key)
        const ready = { entry, reservation, key, response: { ...response, headers: { ...inherited, ...response.headers } }, stream: promise.value }
        sendPushes([ready], parent, report, new Set())
        continue
      }
    }
    if (result.ok) result.response.release?.()
    if (promise.ok) promise.value.cancel()
    reservation.release()
    push.skip(entry, refusal)
  }
}

/** The key a URL had when last produced, for the next promise made before producing it (at most LAST_KEYS_KEPT URLs). */
function rememberKey(lastKeys: Map<string, string>, url: string, key: string): void {
  if (lastKeys.size >= LAST_KEYS_KEPT && !lastKeys.has(url)) lastKeys.delete(lastKeys.keys().next().value as string)
  lastKeys.set(url, key)
}

/** The entry for a link the app named: same-origin paths only, typed by its `as`. */
export function linkEntry(link: PreloadLink, prepare: (url: string, type: string, nopush: boolean, value: string) => PreparedEntry): PreparedEntry | undefined {
  const url = link.url
  if (!url.startsWith('/') || url.startsWith('//') || /[\s\\]/.test(url)) return undefined
  return prepare(url, link.as || 'fetch', link.nopush, link.value || preloadLink(url, link.as || 'fetch', undefined, link.nopush))
}
