/**
 * Page loads over a real round-trip time, in the RTT lab of perflab (a network namespace
 * `h2client` at 10.200.0.2 joined to the host at 10.200.0.1, each end delaying packets):
 *
 *   npm run bench:pageload           cold loads by nghttp (`nghttp -n -s -a -y`, perflab's pageload.sh) of a page
 *                                    linking 10 × 10 KB stylesheets: this package on spdy and on node:http2 beside
 *                                    the Go reference server (perflab's goseed) with and without push
 *   npm run bench:pageload-browser   headless Chromium loading a page whose route thinks 300 ms, with the
 *                                    middleware's `earlyHints` on and off: median loadEventStart against the floor
 *
 * Needs root (network namespaces, iptables), perflab's own needs (go, gcc, libnetfilter-queue-dev,
 * iptables-legacy, iproute2, ping, python3, openssl), nghttp and, for the browser, chromium.
 * Environment: PERFLAB (perflab's folder, default ../shared/perflab beside the package; copied to a temporary
 * folder and run from there), ROUNDS (loads per server, alternating, default 9; BENCH_QUICK=1: 3 and one warm-up load), RTT_MS (default 50),
 * THINK_MS (browser route, default 300), NGHTTP_OPTS (passed to pageload.sh, e.g. "-w 20 -W 20"),
 * TRACES (`nghttp -v` runs per server for the time to the first PUSH_PROMISE, default 5), CHROMIUM,
 * CPU_PROF=1 (a V8 CPU profile per server, in bench/results/profiles/pageload-*), SERVER_NODE_FLAGS (flags for our servers' Node, both transports), CAPTURE=1 (browser: tcpdump under the counted rounds, kept in bench/results/pageload.pcap, and a table of the stylesheets' bursts on the wire; needs tcpdump).
 * Writes bench/results/pageload.json or pageload-browser.json.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createHash, createPublicKey } from 'node:crypto'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { listeningPort, PROFILE_DIR, RESULTS_DIR, median, medianRatioInterval, serverNodeFlags, summaryRow, type SummaryRow } from './harness.js'
import { CHROMIUM_FLAGS } from '../test/helpers/chromium.js'
import { loadFacts, PHASES, REPORT_SCRIPT, relativeEvents, serverEvents, type PageReport } from './timeline.js'
import { FLUSH_MS } from './timeline-server.js'
import { bursts, parsePackets, readCapture, startCapture, type Burst, type Capture } from './capture.js'

const run = promisify(execFile)
const here = fileURLToPath(new URL('./', import.meta.url))
const packageRoot = resolve(here, '../..')
const scenario = process.argv[2] === 'browser' ? 'browser' : 'nghttp'
const QUICK = process.env['BENCH_QUICK'] === '1'
const ROUNDS = Number(process.env['ROUNDS'] ?? (QUICK ? 3 : 9))
const RTT_MS = Number(process.env['RTT_MS'] ?? 50)
const THINK_MS = Number(process.env['THINK_MS'] ?? 300)
const TRACES = Number(process.env['TRACES'] ?? 5)
const CHROMIUM = process.env['CHROMIUM'] ?? 'chromium'
const PERFLAB = resolve(packageRoot, process.env['PERFLAB'] ?? '../shared/perflab')
const NS = 'h2client'
const HOST_IP = '10.200.0.1'
const CLIENT_IP = '10.200.0.2'
/** CAPTURE=1: tcpdump under the browser's counted rounds, and the stylesheets' bursts on the wire (bench/capture.ts). */
const CAPTURE = process.env['CAPTURE'] === '1'
const GO_PORT = 9443
const STYLESHEETS = 10
const SIZE = 10 * 1024

function fail(message: string): never {
  console.error(`bench:pageload: ${message}`)
  process.exit(1)
}

async function has(command: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${command}`]).then(
    () => true,
    () => false,
  )
}

async function preflight(): Promise<void> {
  if (process.getuid?.() !== 0) fail('needs root (it creates a network namespace, a veth pair and iptables rules): run it as root')
  if (!existsSync(join(PERFLAB, 'rtt.sh'))) fail(`no perflab at ${PERFLAB} (no rtt.sh there): set PERFLAB to perflab's folder`)
  const needs: Array<[string, string]> = [
    ['go', 'golang-go'],
    ['gcc', 'gcc'],
    ['ip', 'iproute2'],
    ['iptables-legacy', 'iptables'],
    ['ping', 'iputils-ping'],
    ['nghttp', 'nghttp2-client'],
    ['python3', 'python3'],
    ['openssl', 'openssl'],
  ]
  if (scenario === 'browser') needs.push([CHROMIUM, 'chromium'])
  if (scenario === 'browser' && CAPTURE) needs.push(['tcpdump', 'tcpdump'])
  const missing: Array<[string, string]> = []
  for (const need of needs) if (!(await has(need[0]))) missing.push(need)
  if (missing.length) {
    fail(`missing ${missing.map(([c]) => c).join(', ')}: apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(' ')} libnetfilter-queue-dev`)
  }
  if (!existsSync('/usr/include/libnetfilter_queue/libnetfilter_queue.h')) fail('missing libnetfilter-queue headers: apt-get install -y libnetfilter-queue-dev')
  const netns = await run('ip', ['netns', 'list'])
  if (netns.stdout.split('\n').some((l) => l.split(' ')[0] === NS)) {
    fail(`network namespace ${NS} exists already: another RTT lab is running (stop it with its rtt.sh down first)`)
  }
}

interface Lab {
  dir: string
  rttMs: number
  pingMs: number
  mode: string
}

/** Copies perflab to a temporary folder (its scripts write beside themselves) and brings the lab up. */
async function labUp(): Promise<Lab> {
  const dir = join(await mkdtemp(join(tmpdir(), 'h2push-perflab-')), 'perflab')
  await run('cp', ['-r', PERFLAB, dir])
  await run('chmod', ['-R', 'u+w', dir])
  const up = await run(join(dir, 'rtt.sh'), ['up'], { env: { ...process.env, DELAY_MS: String(RTT_MS / 2) } })
  const labEnv = await readFile(join(dir, 'run/lab.env'), 'utf8')
  const ping = /= [\d.]+\/([\d.]+)\//.exec(up.stdout)
  return {
    dir,
    rttMs: Number(/LAB_RTT_MS=(\d+)/.exec(labEnv)?.[1]),
    pingMs: Number(ping?.[1]),
    mode: /LAB_MODE=(\S+)/.exec(labEnv)?.[1] ?? '?',
  }
}

async function labDown(lab: Lab): Promise<void> {
  await run(join(lab.dir, 'server.sh'), ['stop', 'go']).catch(() => {})
  await run(join(lab.dir, 'rtt.sh'), ['down']).catch((err: Error) => console.error(`bench:pageload: rtt.sh down: ${err.message}`))
  await rm(resolve(lab.dir, '..'), { recursive: true, force: true })
}

/** The folder our servers serve: the page and its 10 × 10 KB stylesheets, as goseed's /page?k=10&s=10240. */
async function writeSite(): Promise<string> {
  const site = await mkdtemp(join(tmpdir(), 'h2push-pageload-'))
  await mkdir(join(site, 'a'))
  const links: string[] = []
  for (let i = 0; i < STYLESHEETS; i++) {
    // A CSS comment of exactly SIZE bytes, as goseed's assets.
    const body = '/*' + 'abcdefghijklmnopqrstuvwxyz'.repeat(Math.ceil(SIZE / 26)).slice(0, SIZE - 4) + '*/'
    await writeFile(join(site, 'a', `${i}.css`), body)
    links.push(`<link rel="stylesheet" href="/a/${i}.css">`)
  }
  await writeFile(
    join(site, 'page10.html'),
    `<!DOCTYPE html>\n<html><head><title>push page</title>\n${links.join('\n')}\n</head><body><p>page</p></body></html>\n`,
  )
  // The browser's page: it writes its own navigation and resource timing into the DOM, which --dump-dom prints.
  const report = REPORT_SCRIPT
  await writeFile(
    join(site, 'index.html'),
    `<!DOCTYPE html>\n<html><head><title>hinted page</title>\n${links.join('\n')}\n</head><body><p>page</p>\n${report}\n</body></html>\n`,
  )
  return site
}

interface Ours {
  child: ChildProcess
  port: number
  /** What the server printed since the last navigation began (its timeline events). */
  lines: string[]
}

async function startOurs(lab: Lab, site: string, env: Record<string, string>): Promise<Ours> {
  // CPU_PROF=1: a V8 CPU profile per server, on exit, in a folder named for its transport and hints.
  const dir = `pageload-${env['TRANSPORT'] ?? 'spdy'}${env['EARLY_HINTS'] === '0' ? '-nohints' : ''}`
  const profile = process.env['CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${join(PROFILE_DIR, dir)}`] : []
  const child = spawn(process.execPath, [...serverNodeFlags(), ...profile, join(here, 'pageload-server.js')], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: HOST_IP,
      PORT: '0',
      SITE: site,
      CERT: join(lab.dir, 'certs/server.crt'),
      KEY: join(lab.dir, 'certs/server.key'),
      THINK_MS: String(THINK_MS),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const { port, stderr: err } = await listeningPort(child)
  if (port === undefined) throw new Error(`our server (${JSON.stringify(env)}) did not start: ${err.trim().split('\n').slice(-5).join('\n')}`)
  const ours: Ours = { child, port, lines: [] }
  let partial = ''
  child.stdout!.on('data', (d: string) => {
    const lines = (partial + d).split('\n')
    partial = lines.pop()!
    ours.lines.push(...lines)
  })
  return ours
}

async function stopOurs(servers: readonly Ours[]): Promise<void> {
  await Promise.all(
    servers.map((s) => {
      if (s.child.exitCode !== null) return undefined
      const exited = new Promise((resolve) => s.child.once('exit', resolve))
      s.child.kill('SIGTERM')
      return exited
    }),
  )
}

/** Runs each target's load once per round, the order reversed every other round. */
async function alternate<T>(targets: readonly T[], load: (t: T) => Promise<void>): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of round % 2 ? [...targets].reverse() : targets) await load(t)
  }
}

/** The delay is a userspace program: a busy machine lengthens every load, so the table says how busy it was. */
const loadAtStart = loadavg()[0]!
const load = (): string => `load average ${loadAtStart.toFixed(1)} → ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`
const ms = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : 'n/a')
const ratio = (x: number, base: number): string => (Number.isFinite(x) && Number.isFinite(base) ? `${(x / base).toFixed(2)}×` : 'n/a')

interface NghttpTarget {
  name: string
  url: string
  totals: number[]
  connect: number[]
  pushed: number[]
  failed: number
  firstPromise: number[]
  firstResponse: number[]
}

/** One cold load by perflab's pageload.sh (a new nghttp process: new TCP and TLS connection). */
async function pageload(lab: Lab, t: NghttpTarget): Promise<void> {
  const { stdout } = await run(join(lab.dir, 'pageload.sh'), [t.url, '1'], { env: process.env, maxBuffer: 1 << 20 }).catch((err: { stdout?: string }) => ({
    stdout: err.stdout ?? '',
  }))
  const m = /run +1: total +([\d.]+) ms +\(connect\+TLS +([\d.]+) ms .* responses (\d+) pushed (\d+) non-200 (\d+) rc (\d+)/.exec(stdout)
  if (m?.[5] !== '0' || m[6] !== '0' || Number(m[3]) !== STYLESHEETS + 1) {
    t.failed++
    return
  }
  t.totals.push(Number(m[1]))
  t.connect.push(Number(m[2]))
  t.pushed.push(Number(m[4]))
}

/**
 * From a `nghttp -v` frame trace of a cold load: ms from the page's request HEADERS being sent to the first
 * PUSH_PROMISE received, and to the page's response HEADERS (nghttp prints times to the millisecond).
 */
async function trace(t: NghttpTarget): Promise<void> {
  const { stdout } = await run('timeout', ['30', 'ip', 'netns', 'exec', NS, 'nghttp', '-nv', '-a', '-y', t.url], { maxBuffer: 16 << 20 }).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  )
  const frame = /^\[ *([\d.]+)\] (send|recv) (\w+) frame <[^>]*stream_id=(\d+)>/
  let sent: { at: number; stream: string } | undefined
  let promise = NaN
  let response = NaN
  for (const line of stdout.split('\n')) {
    const m = frame.exec(line)
    if (!m) continue
    const at = Number(m[1]) * 1000
    if (!sent) {
      if (m[2] === 'send' && m[3] === 'HEADERS') sent = { at, stream: m[4]! }
    } else if (m[2] === 'recv' && m[3] === 'PUSH_PROMISE' && Number.isNaN(promise)) promise = at - sent.at
    else if (m[2] === 'recv' && m[3] === 'HEADERS' && m[4] === sent.stream && Number.isNaN(response)) response = at - sent.at
  }
  t.firstPromise.push(promise)
  t.firstResponse.push(response)
}

async function nghttpBench(lab: Lab, site: string): Promise<void> {
  await run(join(lab.dir, 'server.sh'), ['start', 'go', '-host', HOST_IP, '-port', String(GO_PORT)])
  const ours: Ours[] = []
  try {
    for (const transport of ['spdy', 'http2']) ours.push(await startOurs(lab, site, { TRANSPORT: transport, SCENARIO: 'nghttp' }))
    const goPage = `https://${HOST_IP}:${GO_PORT}/page?k=${STYLESHEETS}&s=${SIZE}`
    const target = (name: string, url: string): NghttpTarget => ({
      name,
      url,
      totals: [],
      connect: [],
      pushed: [],
      failed: 0,
      firstPromise: [],
      firstResponse: [],
    })
    const targets = [
      target('Go seed, push', goPage),
      target('Go seed, no push', `${goPage}&nopush=1`),
      target('ours, spdy', `https://${HOST_IP}:${ours[0]!.port}/page10.html`),
      target('ours, node:http2', `https://${HOST_IP}:${ours[1]!.port}/page10.html`),
    ]
    for (const t of targets) await pageload(lab, { ...t, totals: [], connect: [], pushed: [] }) // warm-up, not counted
    await alternate(targets, (t) => pageload(lab, t))
    for (let i = 0; i < TRACES; i++) for (const t of targets) await trace(t)

    const goPush = median(targets[0]!.totals)
    const goNoPush = median(targets[1]!.totals)
    const opts = process.env['NGHTTP_OPTS'] ? ` ${process.env['NGHTTP_OPTS']}` : ''
    console.log(
      `\nCold page loads, ${STYLESHEETS} × ${SIZE / 1024} KB stylesheets, \`nghttp -n -s -a -y${opts}\` from the lab's namespace, ` +
        `RTT ${lab.rttMs} ms (ping ${lab.pingMs.toFixed(1)} ms, ${lab.mode}), ${ROUNDS} alternating rounds, Node ${process.version}, ${load()}\n`,
    )
    console.log(
      '| server | median page load | min | loads (ms) | failed | connect+TLS | pushed | vs Go push | vs Go no push | first PUSH_PROMISE after request | page HEADERS after request |',
    )
    console.log('|---|---|---|---|---|---|---|---|---|---|---|')
    for (const t of targets) {
      const med = median(t.totals)
      const pushed = [...new Set(t.pushed)].sort((a, b) => a - b).join('/')
      console.log(
        `| ${t.name} | ${ms(med)} | ${ms(Math.min(...t.totals))} | ${t.totals.map((x) => x.toFixed(0)).join(' ')} | ${t.failed} | ${ms(median(t.connect))} | ${pushed || '–'} | ` +
          `${ratio(med, goPush)} | ${ratio(med, goNoPush)} | ${t.firstPromise.some(Number.isFinite) ? ms(median(t.firstPromise.filter(Number.isFinite))) : '–'} | ${ms(median(t.firstResponse))} |`,
      )
    }
    console.log(`\nTimes after the request: from nghttp -v (${TRACES} cold loads each, 1 ms resolution); one RTT is ${lab.rttMs} ms of it.`)
    await mkdir(RESULTS_DIR, { recursive: true })
    await writeFile(
      join(RESULTS_DIR, 'pageload.json'),
      JSON.stringify(
        { node: process.version, rttMs: lab.rttMs, pingMs: lab.pingMs, nghttpOpts: process.env['NGHTTP_OPTS'] ?? '', rounds: ROUNDS, targets },
        null,
        2,
      ),
    )
  } finally {
    await stopOurs(ours)
  }
}

interface BrowserTarget {
  name: string
  transport: 'spdy' | 'http2'
  earlyHints: boolean
  server: Ours
  loads: number[]
  /** Each load's timeline: every phase of bench/timeline.ts's PHASES, ms (NaN: did not happen). */
  timelines: Array<Record<string, number>>
  /** Connections per load, stylesheets taken from the 103's preloads, stylesheets requested again. */
  facts: Array<ReturnType<typeof loadFacts>>
  /** Each load's server events, ms after the page's request reached the app. */
  events: Array<Record<string, number[]>>
  failed: number
  errors: string[]
  /** What each page reported (kept in the JSON file). */
  reports: PageReport[]
}

async function spkiHash(lab: Lab): Promise<string> {
  const cert = await readFile(join(lab.dir, 'certs/server.crt'))
  return createHash('sha256')
    .update(createPublicKey(cert).export({ type: 'spki', format: 'der' }))
    .digest('base64')
}

/** Reads the page's report from Chromium's --dump-dom output. */
function pageReport(stdout: string): PageReport | undefined {
  const json = /<pre id="report">(.*?)<\/pre>/s.exec(stdout)?.[1]
  return json
    ? (JSON.parse(
        json
          .replace(/&quot;/g, '"')
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&amp;/g, '&'),
      ) as PageReport)
    : undefined
}

/** One cold navigation: a new Chromium with a new profile, inside the namespace; reads the timing the page wrote. */
async function navigate(t: BrowserTarget, spki: string): Promise<void> {
  const profile = await mkdtemp(join(tmpdir(), 'h2push-chromium-'))
  t.server.lines.length = 0
  try {
    const url = `https://${HOST_IP}:${t.server.port}/`
    const args = [
      'netns',
      'exec',
      NS,
      CHROMIUM,
      ...CHROMIUM_FLAGS,
      `--user-data-dir=${profile}`,
      `--ignore-certificate-errors-spki-list=${spki}`,
      '--dump-dom',
      url,
    ]
    const { stdout } = await run('ip', args, { timeout: 60_000, maxBuffer: 16 << 20 })
    // The server writes its timeline's lines FLUSH_MS after the first of a batch.
    await new Promise((resolve) => setTimeout(resolve, 3 * FLUSH_MS))
    const report = pageReport(stdout)
    if (report?.protocol !== 'h2' || report.css.length !== STYLESHEETS) {
      t.failed++
      t.errors.push(report ? JSON.stringify(report) : stdout.slice(0, 300))
      return
    }
    const events = serverEvents(t.server.lines)
    t.reports.push(report)
    t.loads.push(report.nav['loadEventStart']!)
    t.timelines.push(Object.fromEntries(PHASES.map((p) => [p.name, p.at(report, events)])))
    t.facts.push(loadFacts(report, events))
    t.events.push(relativeEvents(events))
  } catch (err) {
    t.failed++
    t.errors.push((err as Error).message.slice(0, 300))
  } finally {
    await rm(profile, { recursive: true, force: true })
  }
}

async function browserTargets(lab: Lab, site: string, ours: Ours[]): Promise<BrowserTarget[]> {
  const targets: BrowserTarget[] = []
  for (const transport of ['spdy', 'http2'] as const) {
    for (const earlyHints of [true, false]) {
      const server = await startOurs(lab, site, { TRANSPORT: transport, SCENARIO: 'browser', EARLY_HINTS: earlyHints ? '1' : '0' })
      ours.push(server)
      const name = `ours, ${transport === 'http2' ? 'node:http2' : 'spdy'}`
      targets.push({ name, transport, earlyHints, server, loads: [], timelines: [], facts: [], events: [], failed: 0, errors: [], reports: [] })
    }
  }
  return targets
}

const fresh = (t: BrowserTarget): BrowserTarget => ({ ...t, loads: [], timelines: [], facts: [], events: [], errors: [], reports: [] })

/** spdy's median page load over node:http2's, with early hints on and off: the bench's summary (bench/summary.ts prints it in `npm run bench`). */
function browserSummary(targets: readonly BrowserTarget[]): SummaryRow[] {
  return [true, false].map((earlyHints) => {
    const loads = (transport: string) => targets.find((t) => t.transport === transport && t.earlyHints === earlyHints)!.loads
    return summaryRow(
      `pageload-browser: Chromium page load (loadEventStart), earlyHints ${earlyHints ? 'on' : 'off'}, spdy / node:http2`,
      median(loads('spdy')) / median(loads('http2')),
      '<= 1.01',
      medianRatioInterval(loads('spdy'), loads('http2')),
    )
  })
}

async function browserBench(lab: Lab, site: string): Promise<void> {
  await run(join(lab.dir, 'certs.sh'))
  const spki = await spkiHash(lab)
  const ours: Ours[] = []
  try {
    const targets = await browserTargets(lab, site, ours)
    // Warm-up, not counted: each server once (BENCH_QUICK: one of them).
    for (const t of QUICK ? targets.slice(0, 1) : targets) await navigate(fresh(t), spki)
    const capture = CAPTURE ? await startCapture(join(lab.dir, 'pageload.pcap'), CLIENT_IP) : undefined
    await alternate(targets, (t) => navigate(t, spki))
    await capture?.stop()

    // TCP handshake 1 RTT, TLS 1.3 1 RTT, the request and its response 1 RTT, and the route's think time.
    const floor = 3 * lab.rttMs + THINK_MS
    console.log(
      `\nHeadless Chromium, cold navigations from the lab's namespace to a page whose route thinks ${THINK_MS} ms, ${STYLESHEETS} × ${SIZE / 1024} KB ` +
        `stylesheets (express.static, maxAge '1h'), RTT ${lab.rttMs} ms (ping ${lab.pingMs.toFixed(1)} ms, ${lab.mode}), ${ROUNDS} alternating rounds, Node ${process.version}, ${load()}\n`,
    )
    console.log(`Floor: TCP 1 RTT + TLS 1 RTT + request and response 1 RTT + ${THINK_MS} ms think = ${floor} ms (bodies' transfer time not counted)\n`)
    printLoads(targets, floor)
    printTimeline(targets)
    const wire = capture ? await printWire(capture, targets, lab.rttMs / 2) : undefined
    const summary = browserSummary(targets)
    console.log('')
    for (const s of summary)
      console.log(
        `${s.label}: ${s.ratio.toFixed(3)}× (target ${s.target}: ${s.ok ? 'ok' : 'NOT MET'}; 95 % bootstrap interval ${s.interval![0].toFixed(3)}–${s.interval![1].toFixed(3)})`,
      )
    for (const t of targets) if (t.errors.length) console.log(`\n${t.name}, earlyHints ${t.earlyHints}, failed loads: ${t.errors.join('\n')}`)
    await mkdir(RESULTS_DIR, { recursive: true })
    const kept = targets.map(({ server: _server, ...t }) => t)
    await writeFile(
      join(RESULTS_DIR, 'pageload-browser.json'),
      JSON.stringify(
        {
          node: process.version,
          date: new Date().toISOString(),
          rttMs: lab.rttMs,
          pingMs: lab.pingMs,
          thinkMs: THINK_MS,
          floorMs: floor,
          rounds: ROUNDS,
          summary,
          targets: kept,
          ...(wire ? { wire } : {}),
        },
        null,
        2,
      ),
    )
  } finally {
    await stopOurs(ours)
  }
}

function printLoads(targets: readonly BrowserTarget[], floor: number): void {
  console.log(
    '| server | earlyHints | median loadEventStart | min | loads (ms) | failed | above the floor | connections | stylesheets from early hints | requested again | server CPU per load | vs earlyHints off |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const t of targets) {
    const med = median(t.loads)
    const off = targets.find((o) => o.name === t.name && !o.earlyHints)!
    const set = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b).join('/') || '–'
    console.log(
      `| ${t.name} | ${t.earlyHints} | ${ms(med)} | ${ms(Math.min(...t.loads))} | ${t.loads.map((x) => x.toFixed(0)).join(' ')} | ${t.failed} | ` +
        `+${ms(med - floor)} (${ratio(med, floor)}) | ${set(t.facts.map((f) => f.connections))} | ${set(t.facts.map((f) => f.hinted))} | ` +
        `${set(t.facts.map((f) => f.refetched))} | ${ms(median(t.facts.map((f) => f.cpuMs).filter(Number.isFinite)))} | ${ratio(med, median(off.loads))} |`,
    )
  }
}

/** With CAPTURE=1: each target's stylesheet bursts on the wire (bench/capture.ts), their medians printed. */
async function printWire(capture: Capture, targets: readonly BrowserTarget[], oneWayMs: number): Promise<Record<string, Burst[]>> {
  const text = await readCapture(capture.file)
  await mkdir(RESULTS_DIR, { recursive: true })
  await copyFile(capture.file, join(RESULTS_DIR, 'pageload.pcap'))
  const wire: Record<string, Burst[]> = {}
  console.log(`\nOn the wire (CAPTURE=1: tcpdump on the lab's host side over the counted rounds; per connection, its burst of stylesheet DATA; medians)\n`)
  console.log('| server | earlyHints | connections | server reaction (ms) | transfer (ms) | KB | segments | partial segments |')
  console.log('|---|---|---|---|---|---|---|---|')
  for (const t of targets) {
    const found = bursts(parsePackets(text, t.server.port), oneWayMs)
    wire[`${t.transport} ${t.earlyHints ? 'on' : 'off'}`] = found
    const m = (f: (b: Burst) => number, digits = 1) => (found.length ? median(found.map(f)).toFixed(digits) : '–')
    console.log(
      `| ${t.name} (port ${t.server.port}) | ${t.earlyHints} | ${found.length} | ${m((b) => b.reactionMs)} | ${m((b) => b.transferMs)} | ${m((b) => b.bytes / 1024)} | ` +
        `${m((b) => b.segments, 0)} | ${m((b) => b.partial, 0)} |`,
    )
  }
  return wire
}

/** The timeline of one load, each phase's median over the rounds: browser phases in ms after navigation start, server phases after the page's request reached the app. */
function printTimeline(targets: readonly BrowserTarget[]): void {
  console.log(
    '\nTimeline of one load (median of each phase over the rounds; browser: ms after navigation start; server: ms after the page request reached the app)\n',
  )
  console.log(`| phase | seen by | ${targets.map((t) => `${t.name.replace('ours, ', '')}, hints ${t.earlyHints ? 'on' : 'off'}`).join(' | ')} |`)
  console.log(`|---|---|${targets.map(() => '---|').join('')}`)
  for (const p of PHASES) {
    const cells = targets.map((t) => {
      const xs = t.timelines.map((l) => l[p.name]!).filter(Number.isFinite)
      return xs.length ? median(xs).toFixed(1) : '–'
    })
    console.log(`| ${p.name} | ${p.side} | ${cells.join(' | ')} |`)
  }
}

await preflight()
const lab = await labUp()
let site: string | undefined
// A Ctrl-C still tears the lab down.
const interrupted = () => {
  void labDown(lab).finally(() => process.exit(130))
}
process.once('SIGINT', interrupted)
process.once('SIGTERM', interrupted)
try {
  site = await writeSite()
  if (scenario === 'browser') await browserBench(lab, site)
  else await nghttpBench(lab, site)
} finally {
  await labDown(lab)
  if (site) await rm(site, { recursive: true, force: true })
}
