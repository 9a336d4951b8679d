/**
 * The push decisions, apart from their effects: every rule that makes an entry a push
 * or a skip, and every skip's reason, message and whether it still gets a hint, written
 * once here for the three paths that push (the manifest, the app's own Link headers and
 * early hints, and the Link header for an edge behind `behindProxy`). Pure but for the
 * connection budget's reservations, which are taken here, before any await; unit-tested
 * without sockets (test/push-decide.test.ts).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { ConnectionBudget, Reservation } from './connection-budget.js'
import type { SkipReason } from './events.js'

/** An entry as the decisions see it. */
export interface Candidate {
  readonly url: string
  readonly nopush: boolean
  readonly dotfile: boolean
  /** No file under `root` when the manifest was loaded. */
  readonly missing?: boolean
}

/** The request as the decisions see it. */
export interface RequestFacts {
  readonly method: string
  readonly path: string
  readonly originalUrl: string
  readonly headers: IncomingHttpHeaders
}

export interface Skip {
  readonly reason: SkipReason
  readonly detail?: string
  /** Whether the entry still gets a 103 / Link preload. */
  readonly hint: boolean
}

export type Decision<E> = { readonly entry: E; readonly push: Reservation } | { readonly entry: E; readonly skip: Skip }

/** A conditional request is answered 304 when the client's copy is current, and that client has the page's assets. */
export function isConditional(headers: IncomingHttpHeaders): boolean {
  return headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined
}

function skipped(reason: SkipReason, hint: boolean, detail?: string): Skip {
  return detail === undefined ? { reason, hint } : { reason, hint, detail }
}

/** Every skip the paths report: its reason, its message, and whether the entry is still hinted. */
export const SKIP = {
  dotfile: skipped('dotfile', false, 'a dotfile (the `dotfiles` option)'),
  nopush: skipped('nopush', true),
  sameUrl: skipped('same-url', false),
  conditional: skipped('conditional', true, 'If-None-Match or If-Modified-Since: the client revalidates a page it has'),
  /** Being pushed on this connection for another request right now: on its way, no hint either. */
  inFlight: skipped('cached', false, 'being pushed on this connection'),
  pushedBefore: skipped('cached', true, 'pushed before on this connection'),
  inDigest: skipped('cached', true, 'listed in the cache digest cookie'),
  sentFirst: skipped('refused', false, 'the response was sent before the push could be promised'),
  cannotPush: (method: string): Skip => skipped(method === 'GET' ? 'push-unsupported' : 'method', true),
  /** Where it cannot be pushed, a file missing under `root` is not hinted either: a preload of it would be a 404. */
  missingFile: skipped('not-found', false, 'no such file under root when the manifest was loaded'),
  responseLimit: (max: number): Skip => skipped('limit', true, `maxPushesPerResponse ${max}`),
  connectionLimit: (max: number): Skip => skipped('limit', true, `maxPushesPerConnection ${max} in flight`),
  responseBytes: (size: number, left: number): Skip => skipped('bytes', true, `${size} bytes, ${left} left for this response`),
  connectionBytes: (size: number, left: number): Skip => skipped('bytes', true, `${size} bytes, ${left} left on this connection (maxPushBytesPerConnection)`),
  /** The response could not be produced: a 404 or another status is not hinted (a preload of it would fail too). */
  notProduced: (reason: SkipReason, detail: string): Skip => skipped(reason, reason !== 'not-found' && reason !== 'status', detail),
  refused: (detail: string): Skip => skipped('refused', true, detail),
  parentStatus: (status: number): Skip => skipped('parent-status', false, `the response is ${status}`),
} as const

/**
 * The rules that need only the entry and the request, in the order every path applies
 * them: a dotfile, `nopush`, a client that cannot take a push (`push: false`; not even
 * hinted when the file is missing under `root`), the request's own URL, a conditional
 * request (`conditional: true`).
 */
export function entrySkip(entry: Candidate, req: RequestFacts, can: { readonly push: boolean; readonly conditional: boolean }): Skip | undefined {
  if (entry.dotfile) return SKIP.dotfile
  if (entry.nopush) return SKIP.nopush
  if (!can.push) return entry.missing ? SKIP.missingFile : SKIP.cannotPush(req.method)
  if (entry.url === req.originalUrl || entry.url === req.path) return SKIP.sameUrl
  if (can.conditional) return SKIP.conditional
  return undefined
}

/** What the client has already, by a response's cache key: pushed on this connection, or listed in its digest. */
export function cachedSkip(key: string, budget: ConnectionBudget, digestHas: ((key: string) => boolean) | undefined): Skip | undefined {
  if (budget.diary.has(key)) return SKIP.pushedBefore
  if (digestHas?.(key)) return SKIP.inDigest
  return undefined
}

/**
 * Reserves a push of `entry` on its connection: the reservation, or the skip when the URL
 * is being pushed there already or the connection has `maxPushesPerConnection` in flight.
 */
export function reserve(entry: Candidate, budget: ConnectionBudget, maxPushesPerConnection: number): Reservation | Skip {
  const reservation = budget.reserve(entry.url)
  if (reservation === 'in-flight') return SKIP.inFlight
  if (reservation === 'streams') return SKIP.connectionLimit(maxPushesPerConnection)
  return reservation
}

/** Whether `reserve` gave a reservation. */
export function reserved(outcome: Reservation | Skip): outcome is Reservation {
  return 'release' in outcome
}

/**
 * Decides each entry before anything is produced. `budget` is the connection's when the
 * response can push (undefined: it cannot); a push reserves its stream and URL on it.
 */
export function decideEntries<E extends Candidate>(
  req: RequestFacts,
  entries: readonly E[],
  limits: { readonly maxPushesPerResponse: number; readonly maxPushesPerConnection: number },
  budget: ConnectionBudget | undefined,
): Array<Decision<E>> {
  const can = { push: budget !== undefined, conditional: budget !== undefined && isConditional(req.headers) }
  const decisions: Array<Decision<E>> = []
  let pushes = 0
  for (const entry of entries) {
    let outcome: Reservation | Skip | undefined = entrySkip(entry, req, can)
    if (!outcome && pushes >= limits.maxPushesPerResponse) outcome = SKIP.responseLimit(limits.maxPushesPerResponse)
    if (!outcome) outcome = reserve(entry, budget!, limits.maxPushesPerConnection)
    if (reserved(outcome)) {
      pushes++
      decisions.push({ entry, push: outcome })
    } else decisions.push({ entry, skip: outcome })
  }
  return decisions
}

/**
 * Whether a produced response (its cache key and size) may still be pushed: not when the
 * connection's diary or the client's digest has it, nor past the bytes left for this
 * response or on the connection (claimed on `reservation` when it fits).
 */
export function refusalOf(
  key: string,
  size: number,
  context: {
    readonly budget: ConnectionBudget
    readonly digestHas: ((key: string) => boolean) | undefined
    readonly bytesLeft: number
    readonly reservation: Reservation
    readonly maxPushBytesPerConnection: number
  },
): Skip | undefined {
  const { budget, digestHas, bytesLeft, reservation } = context
  const cached = cachedSkip(key, budget, digestHas)
  if (cached) return cached
  if (size > bytesLeft) return SKIP.responseBytes(size, bytesLeft)
  if (!reservation.claimBytes(size)) return SKIP.connectionBytes(size, context.maxPushBytesPerConnection - budget.bytes)
  return undefined
}

/**
 * Whether the edge in front (`behindProxy`) is asked to push a produced response: not
 * what the client's digest lists, nor past this response's count or bytes.
 */
export function edgeRefusalOf(
  key: string,
  size: number,
  context: {
    readonly digestHas: ((key: string) => boolean) | undefined
    readonly asked: number
    readonly maxPushesPerResponse: number
    readonly bytesLeft: number
  },
): Skip | undefined {
  if (context.digestHas?.(key)) return SKIP.inDigest
  if (context.asked >= context.maxPushesPerResponse) return SKIP.responseLimit(context.maxPushesPerResponse)
  if (size > context.bytesLeft) return SKIP.responseBytes(size, context.bytesLeft)
  return undefined
}

/** Pushes go with a response that succeeded: not with an error (>= 400) nor a 304 (as Apache's mod_http2). */
export function pushableParentStatus(status: number): boolean {
  return status < 400 && status !== 304
}
