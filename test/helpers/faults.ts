/** What every fault suite (test/faults*.test.ts) checks a server against after abuse. */
import assert from 'node:assert/strict'
import { h2get } from './h2.js'
import { settles } from './wait.js'

export { settles }

/** FAULT_SCALE=10 (`npm run soak`) runs every fault loop ten times longer. */
export const SCALE = Number(process.env['FAULT_SCALE'] ?? 1)

export function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1
  return counts
}

/** Uncaught exceptions and unhandled rejections of this test process, in order. */
export const problems: unknown[] = []
process.on('uncaughtException', (err) => problems.push(err))
process.on('unhandledRejection', (err) => problems.push(err))

const RELEASED = ['Timeout', 'TLSSocketWrap', 'TCPSocketWrap', 'Http2Session']

/**
 * The server still serves `path` (200), nothing was thrown or rejected unhandled, and
 * the fault's timers, sockets and sessions are released (back to `baseline`).
 */
export async function assertHealthy(url: string, baseline: Record<string, number>, what: string, path = '/crt'): Promise<void> {
  const res = await h2get(url, path)
  assert.equal(res.status, 200, `${what}: the server stopped serving`)
  assert.deepEqual(problems, [], `${what}: uncaught errors`)
  await settles(
    () => {
      const now = resourceCounts()
      return RELEASED.every((k) => (now[k] ?? 0) <= (baseline[k] ?? 0))
    },
    `${what}: resources back to ${JSON.stringify(baseline)} (now ${JSON.stringify(resourceCounts())})`,
  )
}
