/**
 * The per-connection push diary (as Apache's H2PushDiarySize): the keys pushed on one
 * HTTP/2 connection, newest last, bounded. Each connection's diary lives in its
 * `ConnectionBudget` (src/push/connection-budget.ts), which goes with the connection.
 */
export class PushDiary {
  readonly #keys = new Set<string>()
  constructor(readonly size: number) {}

  has(key: string): boolean {
    return this.#keys.has(key)
  }

  add(key: string): void {
    if (this.size === 0) return
    this.#keys.delete(key)
    this.#keys.add(key)
    if (this.#keys.size > this.size) this.#keys.delete(this.#keys.values().next().value as string)
  }

  /** Forgets a key whose push was withdrawn before its response went out. */
  delete(key: string): void {
    this.#keys.delete(key)
  }
}
