/**
 * `npm run bench`: every benchmark but the page loads (they need root and a network
 * lab), one after another, then one table of every ratio (bench/summary.ts). By default
 * with lighter loads, so that the whole run stays within 5 minutes on 2 cores; BENCH_FULL=1
 * runs each with its own defaults (the numbers in bench/README.md). A variable set in the
 * environment (ROUNDS, REQUESTS, STREAMS...) wins over both. A benchmark that is not built
 * (dist/bench/<name>.js missing) is skipped with a note.
 *   npm run bench   (BENCH_FULL=1 for the long rounds)
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const here = fileURLToPath(new URL('./', import.meta.url))
const FULL = process.env['BENCH_FULL'] === '1'

/** Each benchmark, in order, with the lighter load `npm run bench` gives it unless BENCH_FULL=1. */
export const BENCHES: readonly { script: string; quick: Readonly<Record<string, string>> }[] = [
  { script: 'transport', quick: { ROUNDS: '3', REQUESTS: '4000' } },
  { script: 'middleware', quick: { ROUNDS: '3', REQUESTS: '4000' } },
  // Item 1's ratio: pinned, and rounds of h2load's default 20 000 requests (3 rounds of 4 000 read 0.78-0.96x for the same tree).
  { script: 'spdy-cost', quick: { ROUNDS: '5', CLIENTS: '20', PIN: '1' } },
  { script: 'bridge', quick: { ROUNDS: '3', REQUESTS: '4000' } },
  { script: 'push', quick: { ROUNDS: '3', CONNECTIONS: '8' } },
  { script: 'first-push', quick: { ROUNDS: '3', CONNECTIONS: '30' } },
  { script: 'connection-setup', quick: { ROUNDS: '5', WARM: '200' } },
  { script: 'cold-load', quick: { ROUNDS: '5' } },
  { script: 'hpack-decode', quick: { ROUNDS: '5', WARM: '5000' } },
  { script: 'memory', quick: { LAYERS: 'bare,demo' } },
  { script: 'returning-visitor', quick: {} },
]

const started = new Date()
const failed: string[] = []
const times: string[] = []
for (const { script, quick } of BENCHES) {
  const file = join(here, `${script}.js`)
  if (!existsSync(file)) {
    console.log(`\nbench: ${script} skipped: ${file} is not built (no bench/${script}.ts in this tree)`)
    continue
  }
  const knobs = FULL ? {} : Object.fromEntries(Object.entries(quick).filter(([k]) => process.env[k] === undefined))
  const shown = Object.entries(knobs)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  console.log(`\n## bench: ${script}${shown ? ` (${shown})` : ''}`)
  const since = Date.now()
  const child = spawn(process.execPath, [file], { env: { ...process.env, ...knobs }, stdio: 'inherit' })
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) failed.push(`${script} (exit ${code})`)
  times.push(`${script} ${Math.round((Date.now() - since) / 1000)} s`)
}
const summary = spawn(process.execPath, [join(here, 'summary.js'), '--since', started.toISOString()], { stdio: 'inherit' })
await once(summary, 'exit')
const seconds = (Date.now() - started.getTime()) / 1000
// The machine's load (1-minute average) says how much else shared the cores with the run.
console.log(
  `\nbench: ${times.length} benchmarks in ${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s${FULL ? ' (BENCH_FULL=1)' : ''} (${times.join(', ')}), ` +
    `load average ${loadavg()[0]!.toFixed(1)} at the end`,
)
if (failed.length) {
  console.error(`bench: failed: ${failed.join(', ')}`)
  process.exitCode = 1
}
