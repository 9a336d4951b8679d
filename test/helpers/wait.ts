/** Waits on a condition, bounded in time (no fixed sleeps in tests). */
import { setTimeout as sleep } from 'node:timers/promises'

/** Resolves once `check` holds; rejects naming `what` after `ms`. */
export async function settles(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}
