/**
 * What one HTTP/2 connection has been pushed and has in flight: the push diary (never
 * pushed twice), the URLs being pushed right now, and the pushed streams and body bytes
 * in flight against the per-connection limits. Everything here is reserved synchronously,
 * before the request path awaits anything, so concurrent requests on one connection
 * cannot push the same URL twice or pass the limits together.
 */
import { PushDiary } from '../cache/diary.js'

export interface ConnectionLimits {
  /** Pushed streams in flight (promised, not yet closed) on one connection. */
  readonly maxPushesPerConnection: number
  /** Body bytes of the pushes in flight on one connection. */
  readonly maxPushBytesPerConnection: number
  /** Entries the diary remembers per connection; 0: no diary. */
  readonly diarySize: number
}

/** One push's claim on its connection's budget: released exactly once. */
export interface Reservation {
  readonly url: string
  /** Adds the body size once it is known; false (and nothing added) when it would pass the byte limit. */
  claimBytes(bytes: number): boolean
  release(): void
}

export class ConnectionBudget {
  readonly diary: PushDiary
  readonly #inFlight = new Set<string>()
  #streams = 0
  #bytes = 0

  constructor(readonly limits: ConnectionLimits) {
    this.diary = new PushDiary(limits.diarySize)
  }

  get streams(): number {
    return this.#streams
  }

  get bytes(): number {
    return this.#bytes
  }

  /** Whether `url` is being pushed on this connection right now. */
  inFlight(url: string): boolean {
    return this.#inFlight.has(url)
  }

  /**
   * Reserves a pushed stream for `url`, or answers why it cannot: `'in-flight'` (being
   * pushed for another request; not checked with the diary off, `diarySize` 0, which
   * pushes on every request) or `'streams'`.
   */
  reserve(url: string): Reservation | 'in-flight' | 'streams' {
    const deduplicated = this.limits.diarySize > 0
    if (deduplicated && this.#inFlight.has(url)) return 'in-flight'
    if (this.#streams >= this.limits.maxPushesPerConnection) return 'streams'
    if (deduplicated) this.#inFlight.add(url)
    this.#streams++
    let bytes = 0
    let released = false
    return {
      url,
      claimBytes: (size: number): boolean => {
        if (released) return false
        if (this.#bytes + size > this.limits.maxPushBytesPerConnection) return false
        this.#bytes += size
        bytes += size
        return true
      },
      release: (): void => {
        if (released) return
        released = true
        if (deduplicated) this.#inFlight.delete(url)
        this.#streams--
        this.#bytes -= bytes
      },
    }
  }
}

/**
 * Budgets by connection, one table per middleware instance (two instances with other
 * limits do not share one). Held weakly: a budget goes with its connection.
 */
export class ConnectionBudgets {
  readonly #budgets = new WeakMap<object, ConnectionBudget>()
  constructor(readonly limits: ConnectionLimits) {}

  for(connection: object): ConnectionBudget {
    let budget = this.#budgets.get(connection)
    if (!budget) {
      budget = new ConnectionBudget(this.limits)
      this.#budgets.set(connection, budget)
    }
    return budget
  }
}
