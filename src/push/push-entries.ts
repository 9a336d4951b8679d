/**
 * The request path of the push middleware: for the entries of one request, decide push or
 * hint, produce the pushed responses, promise them (every PUSH_PROMISE before the
 * response's HEADERS), hint the rest; once the response's status is known, send the
 * pushed responses (a success) or withdraw them (>= 400, 304). In three phases: reserve
 * and load, promise, then send on the status.
 *
 * Every await here is a point where the client may reset the stream, close the socket
 * or send the same request again: what is shared (the connection's diary and budget)
 * is reserved before the first await, and no promise is ever left without a handler
 * while another is awaited (each is turned into a result that cannot reject).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Request, Response } from 'express'
import createDebug from 'debug'
import onHeaders from 'on-headers'
import { pushRequestHeaders, type Pusher, type PushStream } from '../transports/pusher.js'
import { getPusher } from '../transports/get-pusher.js'
import { sendEarlyHints } from '../transports/early-hints.js'
import { cacheKey } from '../cache/digest.js'
import type { ConnectionBudget, Reservation } from './connection-budget.js'
import { decideEntries, pushableParentStatus, refusalOf, SKIP } from './decide.js'
import { digestLookup, readDigest, recordInDigest, writeDigestCookie, type DigestState } from './digest-cookie.js'
import { askEdge } from './edge.js'
import { inheritedHeaders } from './inherited-headers.js'
import { load, settle, type Settled } from './produce.js'
import { RequestPush } from './request-push.js'
import { sendPushes, type Ready } from './send.js'
import type { LoadResult, PushableResponse } from './sources.js'
import type { PreparedEntry, PushEngine } from './settings.js'

const debug = createDebug('express-h2-push:push')

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

/** A push reserved, its response being produced. */
interface Loading {
  readonly entry: PreparedEntry
  readonly reservation: Reservation
  readonly load: Promise<LoadResult>
}

/** A push produced, its PUSH_PROMISE submitted. */
interface Promising {
  readonly entry: PreparedEntry
  readonly reservation: Reservation
  readonly key: string
  readonly response: PushableResponse
  readonly stream: Promise<Settled<PushStream>>
}

/** One request's manifest push, from its reservations to its pushes sent or withdrawn. */
class EntriesPush extends RequestPush {
  /** Reserved on the connection, not yet sending: released if the response closes first. */
  readonly reservations = new Set<Reservation>()
  readonly ready: Ready[] = []
  parentClosed = false
  digest: DigestState | undefined
  requestHeaders: IncomingHttpHeaders = {}

  constructor(
    req: Request,
    res: Response,
    engine: PushEngine,
    readonly pusher: Pusher | undefined,
    readonly budget: ConnectionBudget | undefined,
  ) {
    super(req, res, engine, { hints: true })
  }

  /** A reservation given back: this push will not be sent. */
  drop(reservation: Reservation): void {
    this.reservations.delete(reservation)
    reservation.release()
  }
}

/**
 * Plans and promises the pushes of one request. Resolves, once every PUSH_PROMISE is
 * queued and the hints are sent, after which the route runs (`next()`); the pushed
 * responses go out when the route's response writes a success status, and are reset
 * when it writes an error or a 304, or closes first.
 */
export async function pushEntries(
  engine: PushEngine,
  req: Request,
  res: Response,
  candidates: readonly PreparedEntry[],
  options: PushEntriesOptions = {},
): Promise<void> {
  const handled = options.handled
  const entries = handled ? candidates.filter((entry) => !handled.has(entry.url)) : candidates
  if (handled) for (const entry of entries) handled.add(entry.url)
  const pusher = req.method === 'GET' ? getPusher(res) : undefined
  if (engine.settings.behindProxy && !pusher && req.method === 'GET' && req.httpVersionMajor < 2) return askEdge(engine, req, res, entries)
  const push = new EntriesPush(req, res, engine, pusher, pusher ? engine.budgets.for(pusher.connection) : undefined)
  const loading = reserveAndLoad(push, entries)
  if (loading.length > 0) {
    const promised = await produceAndPromise(push, loading)
    if (promised.length > 0) await awaitPromises(push, promised)
  }
  sendOnStatus(push, options)
}

/** Phase 1, before any await: decide each entry, reserve the pushes, start producing them. */
function reserveAndLoad(push: EntriesPush, entries: readonly PreparedEntry[]): Loading[] {
  const { req, res, settings, budget, reservations, ready } = push
  const reserved: Array<{ entry: PreparedEntry; reservation: Reservation }> = []
  for (const decision of decideEntries(req, entries, settings, budget)) {
    if ('push' in decision) reserved.push({ entry: decision.entry, reservation: decision.push })
    else push.skip(decision.entry, decision.skip)
  }
  if (reserved.length === 0) return []
  // Whatever is still reserved and not sending when the response closes goes back to the
  // connection, and a produced body never taken is released (its file closed): the
  // response may close before its status is known, and then no push is ever sent.
  res.once('close', () => {
    push.parentClosed = true
    for (const reservation of reservations) reservation.release()
    for (const { response } of ready) response.release?.()
  })
  push.requestHeaders = push.pusher ? pushRequestHeaders('/', req.headers, undefined) : {}
  push.digest = readDigest(req, settings)
  return reserved.map(({ entry, reservation }) => {
    reservations.add(reservation)
    return { entry, reservation, load: load(entry, req, push.requestHeaders, settings) }
  })
}

/** Phase 2: in entry order, each produced response that may still go is promised. */
async function produceAndPromise(push: EntriesPush, loading: readonly Loading[]): Promise<Promising[]> {
  const { res, settings, pusher, budget, digest } = push
  const promised: Promising[] = []
  // Not capped at the client's flow-control window: what goes past it is paced by its
  // WINDOW_UPDATEs, which is what flow control is for (a client that stops reading is
  // bounded by pushTimeout and maxPushBytesPerConnection).
  let bytesLeft = settings.maxPushBytes
  const inherited = inheritedHeaders(res, settings.inheritHeaders)
  for (const { entry, reservation, load: produced } of loading) {
    const result = await produced
    if (push.parentClosed) {
      if (result.ok) result.response.release?.()
      push.drop(reservation)
      continue
    }
    if (!result.ok) {
      push.skip(entry, SKIP.notProduced(result.reason, result.detail))
      push.drop(reservation)
      continue
    }
    const { response } = result
    const key = cacheKey(entry.url, response.headers['etag'], response.headers['last-modified'])
    const context = { budget: budget!, digestHas: digestLookup(digest), bytesLeft, reservation, maxPushBytesPerConnection: settings.maxPushBytesPerConnection }
    // The response went out meanwhile: a promise now would follow its HEADERS.
    const refusal = refusalOf(key, response.size, context) ?? (res.headersSent ? SKIP.sentFirst : undefined)
    if (refusal) {
      response.release?.()
      push.skip(entry, refusal)
      push.drop(reservation)
      continue
    }
    bytesLeft -= response.size
    // In the diary from the moment it is promised: a concurrent request that gets here later skips it.
    budget!.diary.add(key)
    const stream = settle(pusher!.push(entry.url, { requestHeaders: push.requestHeaders, timeout: settings.pushTimeout }))
    promised.push({ entry, reservation, key, response: { ...response, headers: { ...inherited, ...response.headers } }, stream })
  }
  return promised
}

/** The transport's answers to the promises: each push ready to send, or refused (and hinted). */
async function awaitPromises(push: EntriesPush, promised: readonly Promising[]): Promise<void> {
  for (const { entry, reservation, key, response, stream } of promised) {
    const result = await stream
    if (!result.ok) {
      response.release?.()
      push.budget!.diary.delete(key)
      push.skip(entry, SKIP.refused(result.error.message))
      push.drop(reservation)
      continue
    }
    push.ready.push({ entry, reservation, key, response, stream: result.value })
    if (push.digest) recordInDigest(push.digest, key)
  }
}

/** Phase 3: the 103 now; the pushes, the Link header and the digest cookie once the status is known. */
function sendOnStatus(push: EntriesPush, options: PushEntriesOptions): void {
  const { res, settings, ready, parent } = push
  const hints = options.hints === false ? [] : push.hints!
  if (hints.length > 0 && !res.headersSent && !push.parentClosed) {
    if (sendEarlyHints(res, hints, settings.earlyHints)) debug('103 Early Hints for %s: %s', parent, hints.join(', '))
  }
  if (push.parentClosed || res.headersSent) {
    // Closed, or another middleware answered while this one awaited: nothing can go before its HEADERS any more.
    for (const { stream, reservation, response } of ready) {
      response.release?.()
      if (!push.parentClosed) stream.cancel()
      push.drop(reservation)
    }
    return
  }
  if (ready.length === 0 && hints.length === 0 && !push.digest?.dirty) return
  if (options.waitForStatus === false && ready.length > 0) {
    sendPushes(ready, parent, push.report, push.reservations)
    ready.length = 0
  }
  onHeaders(res, function pushesFollowTheStatus(this: Response) {
    const success = pushableParentStatus(this.statusCode)
    if (success) writeDigestCookie(this, push.digest, settings.cacheDigest)
    if (success && settings.preloadHeader && hints.length > 0) this.append('Link', hints.join(', '))
    if (ready.length === 0) return
    if (!success) return withdraw(push, this.statusCode)
    // After this response's own HEADERS: the pushed responses follow it on the wire.
    process.nextTick(sendPushes, ready, parent, push.report, push.reservations)
  })
}

/** The response is an error or a 304: its pushes are reset before its own HEADERS are submitted. */
function withdraw(push: EntriesPush, status: number): void {
  for (const { entry, reservation, key, response } of push.ready) {
    response.release?.()
    push.budget!.diary.delete(key)
    push.drop(reservation)
    push.skip(entry, SKIP.parentStatus(status))
  }
  for (const { stream } of push.ready) stream.cancel()
}
