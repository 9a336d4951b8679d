/**
 * The HTTP/2 attack families of issue 22 against the demo (`routes/server.ts` in a child process, a
 * fresh one per family), on each transport: one hostile connection per family, bounded by
 * MAX_FRAMES (200 000) frames or MAX_SECONDS (10) seconds, the server's RSS sampled every 200 ms, and
 * a well-behaved node:http2 client fetching /crt every 250 ms meanwhile. Prints one row per family
 * and transport: frames written until the server ended the connection (or "not ended"), seconds, how
 * it ended, RSS before → peak → after (MB; after: 1 s after the attacker left), the other client's
 * longest wait, and how many requests the demo logged (those that reached Express).
 *   npm run bench:attacks          (FAMILIES=rapid-reset,ping-flood TRANSPORTS=spdy MAX_FRAMES=200000 MAX_SECONDS=10)
 *   node --import tsx bench/attacks.ts
 */
import { FAMILIES, measure, spawnAttackedDemo, type Measured } from '../test/helpers/attack.js'
import type { Transport } from '../index.js'

const MAX_FRAMES = Number(process.env['MAX_FRAMES'] ?? 200_000)
const MAX_SECONDS = Number(process.env['MAX_SECONDS'] ?? 10)
const transports = (process.env['TRANSPORTS'] ?? 'spdy,http2').split(',') as Transport[]
const wanted = process.env['FAMILIES']?.split(',')
const families = FAMILIES.filter((f) => !wanted || wanted.includes(f.name))

const requestLines = (log: string): number => (log.match(/^(GET|POST) /gm) ?? []).length

const header = [
  'family',
  'CVE',
  'transport',
  'frames sent',
  'seconds',
  'how it ended',
  'RSS before → peak → after (MB)',
  'other client worst wait (ms)',
  'requests at the app',
]
console.log(`# HTTP/2 attack families: node ${process.version}, ≤ ${MAX_FRAMES} frames or ${MAX_SECONDS} s each, ${new Date().toISOString()}`)
console.log(`| ${header.join(' | ')} |`)
console.log(`|${header.map(() => '---').join('|')}|`)
const results: Measured[] = []
for (const fam of families)
  for (const transport of transports) {
    const demo = await spawnAttackedDemo(transport)
    try {
      const before = requestLines(demo.stdout())
      const m = await measure(demo, fam, transport, { maxFrames: MAX_FRAMES, maxSeconds: MAX_SECONDS }, { settleMs: 1000 })
      results.push(m)
      // The warm-up and every probe request are logged too.
      const atApp = requestLines(demo.stdout()) - before - m.served - m.failed - 1
      const frames = m.ended ? String(m.frames) : `not ended (${m.frames}${m.stalled ? ', server stopped reading' : ''})`
      const failed = m.failed > 0 ? ` (${m.failed} failed)` : ''
      console.log(
        `| ${fam.name} | ${fam.cve} | ${transport} | ${frames} | ${m.seconds.toFixed(2)} | ${m.how} | ${m.rssBeforeMB} → ${m.rssPeakMB} → ${m.rssAfterMB} | ${m.worstWaitMs}${failed} | ${Math.max(0, atApp)} |`,
      )
    } finally {
      await demo.stop('SIGKILL')
    }
  }
if (process.env['ATTACKS_JSON']) {
  const { writeFile } = await import('node:fs/promises')
  await writeFile(process.env['ATTACKS_JSON'], JSON.stringify(results, null, 2))
}
