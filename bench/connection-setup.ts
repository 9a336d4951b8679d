/**
 * Connection setup: the time from a new connection's TLS handshake to its first request in the app,
 * spdy (with the compatibility layer) against node:http2, measured in the same run.
 *
 * A node:http2 client opens one connection after another (each: connect, GET /, close) to a server
 * in a child process (bench/connection-setup-server.ts), which times each from its first
 * 'secureConnection' listener to the route, and the CPU time over that span. Each round starts a
 * fresh server per transport (alternating which goes first) and opens FRESH connections to it: the
 * first connection (the code on its path runs for the first time) and connections 2..FRESH (still
 * nearly cold, as a page-load benchmark's server is) are taken apart; then WARM connections on one
 * more server per transport, of which the second half counts (warm code). spdy's fresh servers run
 * twice, with createServer's warm-up (the default) and with `warmUp: false`, so the second table
 * shows what the warm-up cuts and what it costs at start.
 *   npm run bench:build && node dist/bench/connection-setup.js   (ROUNDS=7 FRESH=12 WARM=300)
 * Writes bench/results/connection-setup.json.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http2 from 'node:http2'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateLocalhostCertificate } from '../index.js'
import { listeningPort, median, stopServers, summaryRow, writeResults, type SummaryRow } from './harness.js'

const here = fileURLToPath(new URL('./', import.meta.url))
const ROUNDS = Number(process.env['ROUNDS'] ?? 7)
const FRESH = Number(process.env['FRESH'] ?? 12)
const WARM = Number(process.env['WARM'] ?? 300)
const TRANSPORTS = ['spdy', 'http2'] as const
/** The fresh servers of each round: spdy with and without its warm-up, and node:http2. */
const FRESH_SERVERS = ['spdy', 'spdy-cold', 'http2'] as const
type FreshServer = (typeof FRESH_SERVERS)[number]

interface Timings {
  gap: number[]
  cpu: number[]
  startMs: number
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
    session.once('error', reject)
    const req = session.request({ ':path': path })
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => (body += d))
    req.once('error', reject)
    req.once('end', () => {
      session.close()
      resolve(body)
    })
  })
}

/** A fresh server, `count` connections to it, its timings. */
async function connections(server: FreshServer, env: Record<string, string>, count: number): Promise<Timings> {
  const transport = server === 'http2' ? 'http2' : 'spdy'
  const child = spawn(process.execPath, [join(here, 'connection-setup-server.js')], {
    env: { ...process.env, ...env, TRANSPORT: transport, WARM_UP: server === 'spdy-cold' ? '0' : '1', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    const { port, stderr } = await listeningPort(child)
    if (port === undefined) throw new Error(`connection-setup: the ${transport} server did not start: ${stderr}`)
    for (let i = 0; i < count; i++) await get(port, '/')
    return JSON.parse(await get(port, '/stats')) as Timings
  } finally {
    await stopServers([child])
  }
}

const dir = await mkdtemp(join(tmpdir(), 'connection-setup-'))
const { key, cert } = await generateLocalhostCertificate()
const env = { KEY: join(dir, 'key.pem'), CERT: join(dir, 'cert.pem') }
await writeFile(env.KEY, key)
await writeFile(env.CERT, cert)

const empty = (): Record<FreshServer, number[]> => ({ spdy: [], 'spdy-cold': [], http2: [] })
const first = { gap: empty(), cpu: empty() }
const next = { gap: empty(), cpu: empty() }
const warm = { gap: empty(), cpu: empty() }
const startMs = empty()
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of round % 2 ? [...FRESH_SERVERS].reverse() : FRESH_SERVERS) {
      const t = await connections(server, env, FRESH)
      first.gap[server].push(t.gap[0]!)
      first.cpu[server].push(t.cpu[0]!)
      next.gap[server].push(...t.gap.slice(1))
      next.cpu[server].push(...t.cpu.slice(1))
      startMs[server].push(t.startMs)
    }
  }
  for (const transport of TRANSPORTS) {
    const t = await connections(transport, env, WARM)
    warm.gap[transport].push(...t.gap.slice(WARM >> 1))
    warm.cpu[transport].push(...t.cpu.slice(WARM >> 1))
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}

const rows: Array<[string, { gap: Record<FreshServer, number[]>; cpu: Record<FreshServer, number[]> }]> = [
  ['first connection of a fresh server', first],
  [`connections 2..${FRESH} of a fresh server`, next],
  [`warm (the last ${WARM - (WARM >> 1)} of ${WARM} connections)`, warm],
]
console.log(
  `\nConnection setup, TLS handshake done to the request in the app (node:http2 client, loopback), medians; ` +
    `${ROUNDS} rounds of a fresh server per transport, Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}\n`,
)
console.log('| connections | spdy ms | node:http2 ms | spdy / node:http2 | spdy CPU ms | node:http2 CPU ms | CPU spdy / node:http2 |')
console.log('|---|---|---|---|---|---|---|')
const summary: SummaryRow[] = []
const medians: Record<string, Record<string, number>> = {}
for (const [name, t] of rows) {
  const m = { spdy: median(t.gap.spdy), http2: median(t.gap.http2), spdyCpu: median(t.cpu.spdy), http2Cpu: median(t.cpu.http2) }
  medians[name] = m
  console.log(
    `| ${name} | ${m.spdy.toFixed(2)} | ${m.http2.toFixed(2)} | ${(m.spdy / m.http2).toFixed(2)}× | ${m.spdyCpu.toFixed(2)} | ${m.http2Cpu.toFixed(2)} | ${(m.spdyCpu / m.http2Cpu).toFixed(2)}× |`,
  )
  summary.push(summaryRow(`connection-setup: TLS done to request in the app, ${name}, spdy / node:http2 (time)`, m.spdy / m.http2))
}

console.log(`\nspdy's warm-up (createServer's default) against \`warmUp: false\`, fresh servers of the same rounds, medians\n`)
console.log('| connections | spdy, warmUp: false ms | spdy ms | with / without | node:http2 ms | spdy, warmUp: false / node:http2 |')
console.log('|---|---|---|---|---|---|')
for (const [name, t] of rows.slice(0, 2)) {
  const m = { cold: median(t.gap['spdy-cold']), spdy: median(t.gap.spdy), http2: median(t.gap.http2) }
  medians[name]!['spdyCold'] = m.cold
  console.log(
    `| ${name} | ${m.cold.toFixed(2)} | ${m.spdy.toFixed(2)} | ${(m.spdy / m.cold).toFixed(2)}× | ${m.http2.toFixed(2)} | ${(m.cold / m.http2).toFixed(2)}× |`,
  )
  summary.push(summaryRow(`connection-setup: ${name}, spdy with the warm-up / warmUp: false (time)`, m.spdy / m.cold))
}
const start = { spdy: median(startMs.spdy), cold: median(startMs['spdy-cold']), http2: median(startMs.http2) }
console.log(
  `\ncreateServer, median: spdy ${start.spdy.toFixed(0)} ms (the warm-up included), spdy with warmUp: false ${start.cold.toFixed(0)} ms, node:http2 ${start.http2.toFixed(0)} ms`,
)
await writeResults(
  'connection-setup',
  { rounds: ROUNDS, freshConnections: FRESH, warmConnections: WARM, loadavg: loadavg()[0], medians, createServerMs: start, first, next, warm },
  summary,
)
