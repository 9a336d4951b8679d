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
import type { Pusher } from '../transports/pusher.js'
import { pushRequestHeaders } from '../transports/pusher.js'
import { cacheKey } from '../cache/digest.js'
import { preloadLink } from '../manifest/link.js'
import { preloadLinks, type PreloadLink } from './link-header.js'
import type { ConnectionBudgets, Reservation } from './connection-budget.js'
import {
  inheritedHeaders,
  load,
  pushableParentStatus,
  pushEntries,
  readDigest,
  sendPushes,
  settle,
  skip,
  type PreparedEntry,
  type PushSettings,
  type Report,
} from './plan.js'
import type { LoadResult } from './sources.js'

const debug = createDebug('express-h2-push:push')

/** Turns a link into the entry the push engine takes; undefined for a target off this origin. */
export type LinkToEntry = (link: PreloadLink) => PreparedEntry | undefined

export interface LinkPushContext {
  readonly settings: PushSettings
  readonly budgets: ConnectionBudgets
  readonly report: Report
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
  const { settings, budgets, report, toEntry } = context
  const writeEarlyHints = res.writeEarlyHints as ((hints: Record<string, string | string[]>, callback?: () => void) => void) | undefined
  if (typeof writeEarlyHints === 'function') {
    res.writeEarlyHints = function writeEarlyHintsAndPush(this: Response, hints: Record<string, string | string[]>, callback?: () => void): void {
      writeEarlyHints.call(this, hints, callback)
      const entries = entriesOf(hints?.['link'] ?? hints?.['Link'], toEntry)
      if (entries.length === 0 || res.headersSent) return
      pushEntries(req, res, entries, settings, budgets, report, { handled, hints: false, waitForStatus: false }).catch((err: Error) => {
        debug('push of the early hints of %s failed: %s', req.path, err.message)
      })
    } as Response['writeEarlyHints']
  }
  onHeaders(res, function pushHeaderLinks(this: Response) {
    const entries = entriesOf(this.getHeader('link'), toEntry).filter((entry) => !handled.has(entry.url))
    if (entries.length === 0) return
    for (const entry of entries) handled.add(entry.url)
    if (!pushableParentStatus(this.statusCode)) return
    promiseNow(req, this, pusher, entries, context)
  })
}

interface Promised {
  readonly entry: PreparedEntry
  readonly reservation: Reservation
  readonly stream: ReturnType<typeof settle<Awaited<ReturnType<Pusher['push']>>>>
  readonly load: Promise<LoadResult>
}

/** Promises `entries` now, synchronously (before the response's HEADERS), then produces and sends each. */
function promiseNow(req: Request, res: Response, pusher: Pusher, entries: readonly PreparedEntry[], context: LinkPushContext): void {
  const { settings, budgets, report, lastKeys } = context
  const parent = req.path
  const budget = budgets.for(pusher.connection)
  const digest = readDigest(req, settings)
  const requestHeaders = pushRequestHeaders('/', req.headers, undefined)
  const promised: Promised[] = []
  for (const entry of entries) {
    if (entry.dotfile) skip(report, undefined, entry, parent, 'dotfile', 'a dotfile (the `dotfiles` option)')
    else if (entry.nopush) skip(report, undefined, entry, parent, 'nopush')
    else if (entry.url === req.originalUrl || entry.url === req.path) skip(report, undefined, entry, parent, 'same-url')
    else if (promised.length >= settings.maxPushesPerResponse)
      skip(report, undefined, entry, parent, 'limit', `maxPushesPerResponse ${settings.maxPushesPerResponse}`)
    else {
      const last = lastKeys.get(entry.url)
      if (last !== undefined && (budget.diary.has(last) || (digest?.honoured && digest.digest.has(last)))) {
        skip(report, undefined, entry, parent, 'cached', budget.diary.has(last) ? 'pushed before on this connection' : 'listed in the cache digest cookie')
        continue
      }
      const reservation = budget.reserve(entry.url)
      if (reservation === 'in-flight') skip(report, undefined, entry, parent, 'cached', 'being pushed on this connection')
      else if (reservation === 'streams') skip(report, undefined, entry, parent, 'limit', `maxPushesPerConnection ${settings.maxPushesPerConnection} in flight`)
      else {
        promised.push({
          entry,
          reservation,
          // The PUSH_PROMISE is submitted now, ahead of the HEADERS about to be written.
          // keepAfterParent: a small response closes before its pushes are produced; they are answered all the same.
          stream: settle(pusher.push(entry.url, { requestHeaders, timeout: settings.pushTimeout, keepAfterParent: true })),
          load: load(entry, req, requestHeaders, settings),
        })
      }
    }
  }
  if (promised.length === 0) return
  const inherited = inheritedHeaders(res, settings.inheritHeaders)
  ;(async () => {
    let bytesLeft = settings.maxPushBytes
    for (const { entry, reservation, stream, load: loading } of promised) {
      const [promise, result] = await Promise.all([stream, loading])
      const drop = (reason: Parameters<typeof skip>[4], detail?: string): void => {
        if (result.ok) result.response.release?.()
        if (promise.ok) promise.value.cancel()
        reservation.release()
        skip(report, undefined, entry, parent, reason, detail)
      }
      if (!promise.ok) {
        drop('refused', promise.error.message)
        continue
      }
      if (!result.ok) {
        drop(result.reason, result.detail)
        continue
      }
      const { response } = result
      const key = cacheKey(entry.url, response.headers['etag'], response.headers['last-modified'])
      if (lastKeys.size >= LAST_KEYS_KEPT && !lastKeys.has(entry.url)) lastKeys.delete(lastKeys.keys().next().value as string)
      lastKeys.set(entry.url, key)
      if (budget.diary.has(key)) drop('cached', 'pushed before on this connection')
      else if (digest?.honoured && digest.digest.has(key)) drop('cached', 'listed in the cache digest cookie')
      else if (response.size > bytesLeft) drop('bytes', `${response.size} bytes, ${bytesLeft} left for this response`)
      else if (!reservation.claimBytes(response.size)) drop('bytes', `${response.size} bytes, over maxPushBytesPerConnection on this connection`)
      else {
        bytesLeft -= response.size
        budget.diary.add(key)
        sendPushes(
          [{ entry, reservation, key, response: { ...response, headers: { ...inherited, ...response.headers } }, stream: promise.value }],
          parent,
          report,
          new Set(),
        )
      }
    }
  })().catch((err: Error) => debug('push of the Link header of %s failed: %s', parent, err.message))
}

/** The entry for a link the app named: same-origin paths only, typed by its `as`. */
export function linkEntry(link: PreloadLink, prepare: (url: string, type: string, nopush: boolean, value: string) => PreparedEntry): PreparedEntry | undefined {
  const url = link.url
  if (!url.startsWith('/') || url.startsWith('//') || /[\s\\]/.test(url)) return undefined
  return prepare(url, link.as || 'fetch', link.nopush, link.value || preloadLink(url, link.as || 'fetch', undefined, link.nopush))
}
