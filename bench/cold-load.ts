/**
 * Cold page loads on loopback: the server's CPU per load while it is still new, spdy (with the
 * compatibility layer) against node:http2, measured in the same run (issue 24, item 3).
 *
 * The browser page load's server (bench/pageload-server.ts, browser scenario, early hints off, no
 * think time) in a child process per transport, fresh each round (alternating which goes first).
 * A node:http2 client makes LOADS loads of the page one after another, each as Chromium makes it:
 * a new TLS connection (SETTINGS_HEADER_TABLE_SIZE 65 536, push off), `GET /`, its 10 × 10 KB
 * stylesheets at once, `/favicon.ico`. Per load, the CPU time of the server's main thread (Linux's
 * /proc/<pid>/task/<pid>/schedstat, in ns: the JavaScript thread, without V8's compiler and GC
 * helper threads) and of the whole process. Loads 2..LOADS count: the first runs every path for the
 * first time. A page-load benchmark's server serves this few loads, so spdy's JavaScript framing and
 * HPACK run in V8's interpreter and baseline tiers where node:http2's are C++.
 *   npm run bench:build && node dist/bench/cold-load.js   (ROUNDS=7 LOADS=12)
 * PERF=1 (needs Linux `perf`): each server also runs with V8's perf map, is sampled by `perf record`
 * (PERF_HZ, default 4999) over loads 2..LOADS, and a table charges its main thread's CPU per load to
 * each layer (bench/perf-layers.ts): the spdy layer, spdy-transport, Express, node:http2's C++... The
 * CPU columns of such a run include perf's own cost.
 * SERVER_NODE_FLAGS: flags for both servers' Node (`--always-sparkplug`, ...).
 * ALLOC=1: each server also runs V8's sampling heap profiler (bench/alloc-sampling-preload.ts), and the
 * table gains the bytes it allocated per load over loads 2..LOADS (objects already freed
 * included), with spdy's largest allocation sites; its CPU columns include the profiler's cost.
 * Linux only. Writes bench/results/cold-load.json.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import http2 from 'node:http2'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { generateLocalhostCertificate } from '../index.js'
import { listeningPort, median, serverNodeFlags, stopServers, summaryRow, writeResults } from './harness.js'
import { LAYERS, NATIVE, noSamples, perfNodeFlags, perfWorks, recordProcess, type LayerSamples } from './perf-layers.js'
import { allocatedBytes, allocationSites, type SamplingProfile } from './alloc-sampling.js'

const here = fileURLToPath(new URL('./', import.meta.url))
const ROUNDS = Number(process.env['ROUNDS'] ?? 7)
const LOADS = Number(process.env['LOADS'] ?? 12)
const PERF = process.env['PERF'] === '1'
const PERF_HZ = Number(process.env['PERF_HZ'] ?? 4999)
const ALLOC = process.env['ALLOC'] === '1'
const STYLESHEETS = 10
const SIZE = 10 * 1024
const TRANSPORTS = ['spdy', 'http2'] as const
type Transport = (typeof TRANSPORTS)[number]

/** The CPU time (ms) of `pid`'s main thread, and of all its threads. */
async function cpuMs(pid: number): Promise<{ main: number; all: number }> {
  const ns = async (task: string) => {
    try {
      return Number((await readFile(`/proc/${pid}/task/${task}/schedstat`, 'utf8')).split(' ')[0])
    } catch {
      return 0 // a helper thread that ended meanwhile
    }
  }
  const tasks = await readdir(`/proc/${pid}/task`)
  let all = 0
  for (const task of tasks) all += await ns(task)
  return { main: (await ns(String(pid))) / 1e6, all: all / 1e6 }
}

/** Chromium's request headers for a stylesheet, as HPACK sees them (literals on a new connection). */
const HEADERS = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0.0.0 Safari/537.36',
  accept: 'text/css,*/*;q=0.1',
  'accept-encoding': 'gzip, deflate, br, zstd',
  'accept-language': 'en-US,en;q=0.9',
  'sec-fetch-dest': 'style',
  'sec-fetch-mode': 'no-cors',
  'sec-fetch-site': 'same-origin',
}

/** One load: a new connection, the page, its stylesheets at once, the favicon. */
async function load(port: number): Promise<void> {
  const session = http2.connect(`https://localhost:${port}`, {
    rejectUnauthorized: false,
    settings: { headerTableSize: 65536, enablePush: false, initialWindowSize: 6 * 1024 * 1024 },
  })
  session.on('error', () => {})
  const get = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const req = session.request({ ':path': path, ...HEADERS, referer: `https://localhost:${port}/` })
      req.on('data', () => {})
      req.once('end', resolve)
      req.once('error', reject)
    })
  try {
    await get('/')
    await Promise.all(Array.from({ length: STYLESHEETS }, (_, i) => get(`/a/${i}.css`)))
    await get('/favicon.ico')
  } finally {
    session.close()
  }
  await new Promise<void>((resolve) => (session.closed ? resolve() : session.once('close', () => resolve())))
}

/** Asks the server (ALLOC=1) for its allocation profile since the last ask, the `n`th, and reads it. */
async function allocationProfile(child: ChildProcess, file: string, n: number): Promise<SamplingProfile> {
  child.kill('SIGUSR2')
  const since = Date.now()
  for (;;) {
    try {
      return JSON.parse(await readFile(`${file}.${n}.json`, 'utf8')) as SamplingProfile
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || Date.now() - since > 10_000) throw err
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

/** A fresh server, LOADS loads, the CPU of each; with ALLOC=1 what it allocated over loads 2..LOADS. */
async function loads(transport: Transport, env: Record<string, string>): Promise<{ main: number[]; all: number[]; allocated: SamplingProfile | undefined }> {
  const allocProfile = join(dir, `alloc-${transport}`)
  const allocFlags = ALLOC ? ['--import', pathToFileURL(join(here, 'alloc-sampling-preload.js')).href] : []
  const child = spawn(process.execPath, [...serverNodeFlags(), ...(PERF ? perfNodeFlags(dir) : []), ...allocFlags, join(here, 'pageload-server.js')], {
    env: {
      ...process.env,
      ...env,
      ...(ALLOC ? { ALLOC_PROFILE: allocProfile } : {}),
      TRANSPORT: transport,
      SCENARIO: 'browser',
      EARLY_HINTS: '0',
      THINK_MS: '0',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  try {
    const { port, stderr } = await listeningPort(child)
    if (port === undefined || child.pid === undefined) throw new Error(`cold-load: the ${transport} server did not start: ${stderr}`)
    // Its timeline lines are not read here; the pipe is drained so that its writes never block.
    child.stdout?.resume()
    const main: number[] = []
    const all: number[] = []
    let recording: Awaited<ReturnType<typeof recordProcess>> | undefined
    for (let i = 0; i < LOADS; i++) {
      // Loads 2..LOADS are sampled, as they are counted.
      if (PERF && i === 1) recording = await recordProcess(child.pid, join(dir, `perf-${transport}.data`), PERF_HZ)
      if (ALLOC && i === 1) await allocationProfile(child, allocProfile, 1) // what load 1 allocated: not counted
      // The server's timeline lines of the load before are written 25 ms after it (bench/timeline-server.ts): not in this one.
      await new Promise((resolve) => setTimeout(resolve, 60))
      const before = await cpuMs(child.pid)
      await load(port)
      const after = await cpuMs(child.pid)
      main.push(after.main - before.main)
      all.push(after.all - before.all)
    }
    await recording?.stop(samples[transport])
    const allocated = ALLOC ? await allocationProfile(child, allocProfile, 2) : undefined
    return { main, all, allocated }
  } finally {
    await stopServers([child])
  }
}

if (!existsSync('/proc/self/task')) {
  console.error('cold-load: needs Linux (/proc/<pid>/task/<tid>/schedstat)')
  process.exit(1)
}
if (!(LOADS >= 2)) {
  console.error(`cold-load: LOADS must be 2 or more (load 1 is not counted), not ${process.env['LOADS']}`)
  process.exit(1)
}
if (PERF && !(await perfWorks())) {
  console.error('cold-load: PERF=1 needs `perf record` to work here (Debian: apt-get install linux-perf; root, or kernel.perf_event_paranoid <= 1)')
  process.exit(1)
}
const dir = await mkdtemp(join(tmpdir(), 'cold-load-'))
const { key, cert } = await generateLocalhostCertificate()
const env = { KEY: join(dir, 'key.pem'), CERT: join(dir, 'cert.pem'), SITE: join(dir, 'site') }
await writeFile(env.KEY, key)
await writeFile(env.CERT, cert)
await mkdir(join(env.SITE, 'a'), { recursive: true })
const links: string[] = []
for (let i = 0; i < STYLESHEETS; i++) {
  await writeFile(join(env.SITE, 'a', `${i}.css`), `/*${'x'.repeat(SIZE - 4)}*/`)
  links.push(`<link rel="stylesheet" href="/a/${i}.css">`)
}
await writeFile(join(env.SITE, 'index.html'), `<!DOCTYPE html>\n<html><head><title>page</title>\n${links.join('\n')}\n</head><body><p>page</p></body></html>\n`)

const samples: Record<Transport, LayerSamples> = { spdy: noSamples(), http2: noSamples() }
const perLoad: Record<Transport, { main: number[][]; all: number[][] }> = { spdy: { main: [], all: [] }, http2: { main: [], all: [] } }
/** ALLOC=1: bytes allocated per load (loads 2..LOADS) in each round, and the rounds' profiles. */
const allocation: Record<Transport, { perLoad: number[]; profiles: SamplingProfile[] }> = {
  spdy: { perLoad: [], profiles: [] },
  http2: { perLoad: [], profiles: [] },
}
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const transport of round % 2 ? [...TRANSPORTS].reverse() : TRANSPORTS) {
      const cpu = await loads(transport, env)
      perLoad[transport].main.push(cpu.main)
      perLoad[transport].all.push(cpu.all)
      if (cpu.allocated) {
        allocation[transport].perLoad.push(allocatedBytes(cpu.allocated) / (LOADS - 1))
        allocation[transport].profiles.push(cpu.allocated)
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}

/** The median over rounds of each load's CPU, then the median of loads 2..LOADS. */
const counted = (rounds: number[][]): { byLoad: number[]; median: number } => {
  const byLoad = Array.from({ length: LOADS }, (_, i) => median(rounds.map((r) => r[i]!)))
  return { byLoad, median: median(byLoad.slice(1)) }
}
const m = {
  spdy: { main: counted(perLoad.spdy.main), all: counted(perLoad.spdy.all) },
  http2: { main: counted(perLoad.http2.main), all: counted(perLoad.http2.all) },
}
console.log(
  `\nCold page loads (loopback; a new connection, GET /, ${STYLESHEETS} × ${SIZE / 1024} KB stylesheets at once, the favicon), server CPU per load, ` +
    `${ROUNDS} rounds of a fresh server per transport, Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}\n`,
)
console.log('| server CPU per load (ms) | spdy | node:http2 | spdy / node:http2 |')
console.log('|---|---|---|---|')
const row = (name: string, spdy: number, h2: number) => console.log(`| ${name} | ${spdy.toFixed(1)} | ${h2.toFixed(1)} | ${(spdy / h2).toFixed(2)}× |`)
row('load 1, main thread', m.spdy.main.byLoad[0]!, m.http2.main.byLoad[0]!)
row(`loads 2..${LOADS}, main thread`, m.spdy.main.median, m.http2.main.median)
row(`loads 2..${LOADS}, all threads`, m.spdy.all.median, m.http2.all.median)
const allocatedKb = ALLOC ? { spdy: median(allocation.spdy.perLoad) / 1024, http2: median(allocation.http2.perLoad) / 1024 } : undefined
if (allocatedKb) row(`loads 2..${LOADS}, KB allocated (sampled, freed objects included)`, allocatedKb.spdy, allocatedKb.http2)
console.log(`\nMain thread by load (median over rounds): spdy ${m.spdy.main.byLoad.map((x) => x.toFixed(1)).join(' ')}`)
console.log(`                                     node:http2 ${m.http2.main.byLoad.map((x) => x.toFixed(1)).join(' ')}`)
if (ALLOC) {
  // The round with the median allocation: its largest sites, per load.
  const profiles = allocation.spdy.profiles
  const order = allocation.spdy.perLoad.map((bytes, i) => [bytes, i] as const).sort((a, b) => a[0] - b[0])
  const middle = profiles[order[Math.floor(order.length / 2)]![1]]!
  console.log(`\nspdy's largest allocation sites, KB per load (loads 2..${LOADS}, the round of the median):\n`)
  console.log('| site | KB per load |')
  console.log('|---|---|')
  for (const { site, bytes } of allocationSites(middle, 15, `${process.cwd()}/`)) console.log(`| ${site} | ${(bytes / 1024 / (LOADS - 1)).toFixed(1)} |`)
}
/** Per layer, main-thread ms per load (samples over the rate, over the loads sampled): the PERF=1 table. */
const layers = PERF ? layerTable() : undefined
function layerTable(): Array<{ layer: string; spdy: number; http2: number }> {
  const perLoadMs = (t: Transport, layer: string) => (((samples[t].byLayer.get(layer) ?? 0) / PERF_HZ) * 1000) / (ROUNDS * (LOADS - 1))
  const names = [...LAYERS.map(([name]) => name), 'other JavaScript', NATIVE]
  const rows = names.map((layer) => ({ layer, spdy: perLoadMs('spdy', layer), http2: perLoadMs('http2', layer) })).filter((r) => r.spdy > 0 || r.http2 > 0)
  const busy = (t: Transport) => ((samples[t].busy / PERF_HZ) * 1000) / (ROUNDS * (LOADS - 1))
  console.log(
    `\nWhere the main thread's CPU goes, loads 2..${LOADS} (perf at ${PERF_HZ} Hz; each sample charged to its innermost JavaScript frame's layer, ` +
      `with the native code that frame called), ms per load:\n`,
  )
  console.log('| layer | spdy | node:http2 | spdy − node:http2 |')
  console.log('|---|---|---|---|')
  for (const r of [...rows].sort((a, b) => b.spdy - b.http2 - (a.spdy - a.http2)))
    console.log(`| ${r.layer} | ${r.spdy.toFixed(2)} | ${r.http2.toFixed(2)} | ${(r.spdy - r.http2).toFixed(2)} |`)
  console.log(`| all (busy samples) | ${busy('spdy').toFixed(2)} | ${busy('http2').toFixed(2)} | ${(busy('spdy') - busy('http2')).toFixed(2)} |`)
  return rows
}
await writeResults(
  'cold-load',
  {
    rounds: ROUNDS,
    loads: LOADS,
    loadavg: loadavg()[0],
    medians: m,
    perLoad,
    ...(layers ? { perfHz: PERF_HZ, layers } : {}),
    ...(allocatedKb ? { allocatedKbPerLoad: allocatedKb } : {}),
  },
  [
    summaryRow(
      `cold-load: server main-thread CPU per page load, loads 2..${LOADS} of a fresh server, spdy / node:http2`,
      m.spdy.main.median / m.http2.main.median,
    ),
    ...(allocatedKb
      ? [summaryRow(`cold-load: bytes allocated per page load, loads 2..${LOADS} of a fresh server, spdy / node:http2`, allocatedKb.spdy / allocatedKb.http2)]
      : []),
  ],
)
