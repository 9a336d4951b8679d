/**
 * Express over node:http2 (issue 24, item 2): our bridge (createServer({ transport: 'http2' }))
 * against its peer, http2-express, serving the same Express app, and the baselines that break
 * the gap to bare node:http2 down: Express's own cost (Express on node:http against a bare
 * node:http handler, HTTP/1.1), the compatibility API's (a bare compat-API handler against a
 * bare stream-API one), and ours. All servers (bench/bridge-server.ts) in one run, alternating
 * rounds, medians; ratios only, to the baselines of the same run.
 *   npm run bench:bridge      (ROUNDS=5 REQUESTS=20000 CLIENTS=20 STREAMS=10; BENCH_QUICK=1: < 60 s)
 *   CPU_PROF=1 npm run bench:bridge && node dist/bench/profile-packages.js ours-http2
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { cpuMicros, h2load, listeningPort, median, PINNING, PROFILE_DIR, pinned, RESULTS_DIR, requireH2load, stopServers } from './harness.js'

const here = fileURLToPath(new URL('./', import.meta.url))
const QUICK = process.env['BENCH_QUICK'] === '1'
const ROUNDS = Number(process.env['ROUNDS'] ?? (QUICK ? 2 : 5))
const REQUESTS = Number(process.env['REQUESTS'] ?? (QUICK ? 5000 : 20000))
const CLIENTS = Number(process.env['CLIENTS'] ?? 20)
const STREAMS = Number(process.env['STREAMS'] ?? 10)
const PATH = '/crt'

/** Each server and how h2load reaches it. */
const MODES = {
  'ours-http2': 'h2',
  'http2-express': 'h2',
  'bare-http2-compat': 'h2',
  'bare-http2-stream': 'h2',
  'express-http1': 'h1',
  'bare-http1': 'h1',
} as const
type Mode = keyof typeof MODES
const modes = Object.keys(MODES) as Mode[]

interface Measured {
  rps: number[]
  cpu: number[]
  failed: number
  errored: number
}

interface Started {
  child: ChildProcess
  port: number | undefined
  stderr: string
}

async function start(mode: Mode): Promise<Started> {
  const profile = process.env['CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/${mode}`] : []
  const child = spawn(...pinned('server', process.execPath, [...profile, join(here, 'bridge-server.js')]), {
    env: { ...process.env, MODE: mode, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return { child, ...(await listeningPort(child)) }
}

function load(mode: Mode, port: number): Promise<{ rps: number; failed: number; errored: number }> {
  return h2load(port, PATH, { h1: MODES[mode] === 'h1', requests: REQUESTS, clients: CLIENTS, streams: STREAMS })
}

async function measure(servers: Map<Mode, Started>): Promise<Map<Mode, Measured>> {
  const results = new Map(modes.map((m) => [m, { rps: [], cpu: [], failed: 0, errored: 0 } as Measured]))
  for (const mode of modes) if (servers.get(mode)!.port !== undefined) await load(mode, servers.get(mode)!.port!) // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 ? [...modes].reverse() : modes) {
      const { port, child } = servers.get(mode)!
      if (port === undefined) continue
      const before = await cpuMicros(child.pid)
      const r = await load(mode, port)
      const after = await cpuMicros(child.pid)
      const into = results.get(mode)!
      into.rps.push(r.rps)
      const done = REQUESTS - r.failed - r.errored
      if (before !== undefined && after !== undefined && done > 0) into.cpu.push((after - before) / done)
      into.failed += r.failed
      into.errored += r.errored
    }
  }
  return results
}

function stop(servers: Map<Mode, Started>): Promise<void> {
  return stopServers([...servers.values()].map((s) => s.child))
}

/** The ratios the issue asks for, and the breakdown of the gap to bare node:http2. */
function ratios(rps: (m: Mode) => number, cpu: (m: Mode) => number) {
  const pair = (label: string, a: Mode, b: Mode, target?: number) => ({
    label,
    ratio: Number((rps(a) / rps(b)).toFixed(3)),
    cpuRatio: Number((cpu(b) / cpu(a)).toFixed(3)),
    target: target === undefined ? undefined : `>= ${target}`,
    ok: target === undefined ? undefined : rps(a) / rps(b) >= target,
  })
  return [
    pair('ours-http2 / http2-express (the peer)', 'ours-http2', 'http2-express', 1.2),
    pair('ours-http2 / bare-http2-compat (bare node:http2)', 'ours-http2', 'bare-http2-compat', 0.45),
    pair('ours-http2 / bare-http2-stream', 'ours-http2', 'bare-http2-stream'),
    pair('http2-express / bare-http2-compat', 'http2-express', 'bare-http2-compat'),
    pair('Express: express-http1 / bare-http1', 'express-http1', 'bare-http1'),
    pair('compat API: bare-http2-compat / bare-http2-stream', 'bare-http2-compat', 'bare-http2-stream'),
  ]
}

function print(title: string, servers: Map<Mode, Started>, results: Map<Mode, Measured>, rows: ReturnType<typeof ratios>): void {
  console.log(`\n${title}\n`)
  console.log('| server | median req/s | rounds | failed | errored | server CPU µs per req |')
  console.log('|---|---|---|---|---|---|')
  for (const mode of modes) {
    const r = results.get(mode)!
    if (servers.get(mode)!.port === undefined) {
      console.log(`| ${mode} | – | – | – | – | does not start: ${servers.get(mode)!.stderr.trim().split('\n').at(-1)} |`)
      continue
    }
    const cpu = median(r.cpu)
    console.log(
      `| ${mode} | ${median(r.rps).toFixed(0)} | ${r.rps.map((x) => x.toFixed(0)).join(' ')} | ${r.failed} | ${r.errored} | ${Number.isFinite(cpu) ? cpu.toFixed(1) : 'n/a'} |`,
    )
  }
  console.log('\n| ratio | req/s | CPU per req (inverse) | target |')
  console.log('|---|---|---|---|')
  for (const row of rows) {
    const verdict = row.target === undefined ? '' : `${row.target} ${row.ok ? 'ok' : 'MISSED'}`
    console.log(`| ${row.label} | ${row.ratio.toFixed(2)}× | ${row.cpuRatio.toFixed(2)}× | ${verdict} |`)
  }
}

await requireH2load()
const title = `Express over node:http2: GET ${PATH}, h2load -n ${REQUESTS} -c ${CLIENTS} -m ${STREAMS} (--h1 for the HTTP/1.1 servers), ${ROUNDS} alternating rounds${PINNING}, Node ${process.version}`
const servers = new Map<Mode, Started>()
let results: Map<Mode, Measured>
try {
  for (const mode of modes) servers.set(mode, await start(mode))
  results = await measure(servers)
} finally {
  await stop(servers)
}
const rows = ratios(
  (m) => median(results.get(m)!.rps),
  (m) => median(results.get(m)!.cpu),
)
print(title, servers, results, rows)
const summary = rows.filter((r) => r.target !== undefined).map(({ label, ratio, target, ok }) => ({ label, ratio, target: target!, ok: ok! }))
await mkdir(RESULTS_DIR, { recursive: true })
await writeFile(
  join(RESULTS_DIR, 'bridge.json'),
  JSON.stringify({ node: process.version, title, unit: 'req/s', summary, ratios: rows, results: Object.fromEntries(results) }, null, 2),
)
