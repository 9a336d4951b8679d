/**
 * The push decisions, apart from their effects: what a request's entries become (a push
 * to try, or a skip with its reason and whether it still gets a hint) before anything
 * is produced, and whether a produced response may still be pushed. Pure but for the
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
  const conditional = budget !== undefined && isConditional(req.headers)
  const decisions: Array<Decision<E>> = []
  let pushes = 0
  for (const entry of entries) {
    const skip = (reason: SkipReason, hint: boolean, detail?: string): void => {
      decisions.push({ entry, skip: skipped(reason, hint, detail) })
    }
    if (entry.dotfile) skip('dotfile', false, 'a dotfile (the `dotfiles` option)')
    else if (entry.nopush) skip('nopush', true)
    else if (!budget) skip(req.method === 'GET' ? 'push-unsupported' : 'method', true)
    else if (entry.url === req.originalUrl || entry.url === req.path) skip('same-url', false)
    else if (conditional) skip('conditional', true, 'If-None-Match or If-Modified-Since: the client revalidates a page it has')
    else if (pushes >= limits.maxPushesPerResponse) skip('limit', true, `maxPushesPerResponse ${limits.maxPushesPerResponse}`)
    else {
      const reservation = budget.reserve(entry.url)
      // Being pushed on this connection for another request right now: on its way, no hint either.
      if (reservation === 'in-flight') skip('cached', false, 'being pushed on this connection')
      else if (reservation === 'streams') skip('limit', true, `maxPushesPerConnection ${limits.maxPushesPerConnection} in flight`)
      else {
        pushes++
        decisions.push({ entry, push: reservation })
      }
    }
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
  if (budget.diary.has(key)) return skipped('cached', true, 'pushed before on this connection')
  if (digestHas?.(key)) return skipped('cached', true, 'listed in the cache digest cookie')
  if (size > bytesLeft) return skipped('bytes', true, `${size} bytes, ${bytesLeft} left for this response`)
  if (!reservation.claimBytes(size)) {
    return skipped('bytes', true, `${size} bytes, ${context.maxPushBytesPerConnection - budget.bytes} left on this connection (maxPushBytesPerConnection)`)
  }
  return undefined
}
