/**
 * Shared by the benchmarks: start servers (bench/server.ts) in child processes, load
 * them with h2load in alternating rounds, print medians and the ratio to the
 * baseline measured in the same run, write bench/results/<name>.json.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join, resolve } from 'node:path'
import { availableParallelism } from 'node:os'

const run = promisify(execFile)
/**
 * Benchmarks run compiled (`npm run bench:build`, to dist/bench), as the package runs
 * for its users: under tsx every function gets a `name` redefined by esbuild's
 * keepNames, which costs time per closure and 256 bytes per closure kept alive.
 */
const here = fileURLToPath(new URL('./', import.meta.url))
/** Where results go: bench/results under the folder npm runs scripts in (the package root), or BENCH_RESULTS. */
export const RESULTS_DIR = resolve(process.env['BENCH_RESULTS'] ?? 'bench/results')

export const ROUNDS = Number(process.env['ROUNDS'] ?? 5)
/**
 * PIN=1: servers run on CPU 0 and the load generator on the others (taskset), so the
 * two stop competing for a core; rounds then spread less. Needs taskset and 2+ CPUs.
 */
const PIN = process.env['PIN'] === '1' && availableParallelism() >= 2
const lastCpu = availableParallelism() - 1
export function pinned(role: 'server' | 'load', command: string, args: readonly string[]): [string, string[]] {
  if (!PIN) return [command, [...args]]
  return ['taskset', ['-c', role === 'server' ? '0' : `1-${lastCpu}`, command, ...args]]
}
export const PINNING = PIN ? `, servers on CPU 0, load on CPU 1${lastCpu > 1 ? `-${lastCpu}` : ''}` : ''
export const REQUESTS = Number(process.env['REQUESTS'] ?? 20000)
export const CLIENTS = Number(process.env['CLIENTS'] ?? 50)
export const STREAMS = Number(process.env['STREAMS'] ?? 10)

export async function requireH2load(): Promise<void> {
  try {
    await run('h2load', ['--version'])
  } catch {
    console.error('bench: h2load not found; install it with `apt-get install nghttp2-client`')
    process.exit(1)
  }
}

interface BenchServer {
  child: ChildProcess
  port: number | undefined
  error: string
}

/** The port a benchmark server prints (`listening <port>`), or undefined when it exits first; with its stderr so far. */
export async function listeningPort(child: ChildProcess): Promise<{ port: number | undefined; stderr: string }> {
  let out = ''
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const port = await new Promise<number | undefined>((resolve) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const m = /listening (\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', () => resolve(undefined))
  })
  return { port, stderr }
}

/** CPU_PROF=1: each server writes a V8 CPU profile on exit (read it with bench/profile.ts). */
export const PROFILE_DIR = join(RESULTS_DIR, 'profiles')

async function startServer(mode: string): Promise<BenchServer> {
  // One folder per server: the main thread's profile is the one with thread id 0 in its name.
  const profile = process.env['CPU_PROF'] ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}/${mode}`] : []
  const child = spawn(...pinned('server', process.execPath, [...profile, join(here, 'server.js')]), {
    env: { ...process.env, MODE: mode, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const { port, stderr: err } = await listeningPort(child)
  return {
    child,
    port,
    error:
      err
        .split('\n')
        .find((l) => /Error/.test(l))
        ?.trim() ?? 'exited',
  }
}

/** One h2load run on `path` (`h1`: HTTP/1.1 over plain TCP, `--h1`; counts default to REQUESTS, CLIENTS, STREAMS): requests per second, failed and errored requests. */
export async function h2load(port: number, path: string, { h1 = false, requests = REQUESTS, clients = CLIENTS, streams = STREAMS } = {}) {
  const url = `${h1 ? 'http' : 'https'}://127.0.0.1:${port}${path}`
  const args = [...(h1 ? ['--h1'] : []), '-n', String(requests), '-c', String(clients), '-m', String(streams), url]
  const { stdout } = await run(...pinned('load', 'h2load', args), { maxBuffer: 16 * 1024 * 1024 })
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout)?.[1])
  const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout)
  return { rps, failed: Number(m?.[2] ?? requests), errored: Number(m?.[3] ?? 0) }
}

/** A V8 CPU profile (`--cpu-prof`), as bench/profile.ts and bench/profile-packages.ts read it. */
export interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
export interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN
}

/**
 * How far the ratio of two medians, `median(a) / median(b)`, moves with the samples: the 2.5th
 * and 97.5th percentiles of that ratio over `resamples` bootstrap resamples of each (drawn with
 * replacement, as many as each has), from a seeded generator, so the same samples always give
 * the same interval. Nine page loads a side give an interval several percent wide: a ratio
 * whose interval holds its target was not told apart from it.
 */
export function medianRatioInterval(a: readonly number[], b: readonly number[], resamples = 4000, seed = 1): [number, number] {
  if (a.length === 0 || b.length === 0) return [NaN, NaN]
  // mulberry32: small, seeded, uniform enough for resampling.
  let state = seed >>> 0
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const draw = (xs: readonly number[]): number[] => Array.from({ length: xs.length }, () => xs[Math.floor(random() * xs.length)]!)
  const ratios = Array.from({ length: resamples }, () => median(draw(a)) / median(draw(b))).sort((x, y) => x - y)
  return [ratios[Math.floor(0.025 * (resamples - 1))]!, ratios[Math.ceil(0.975 * (resamples - 1))]!]
}

export interface LoadResult {
  rate: number
  /** How many units (requests, pushes) the rate counts in this load. */
  count: number
  failed: number
  errored: number
}

/**
 * The CPU time (user + system, µs) a process has used so far, from /proc (Linux);
 * undefined elsewhere. Per request, it varies far less between rounds than a rate
 * does while the load generator shares the machine's cores.
 */
export async function cpuMicros(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '').split(' ')
    // utime and stime are the 14th and 15th fields of the line, in clock ticks (USER_HZ, 100 on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100
  } catch {
    return undefined
  }
}

/** Stops benchmark servers and waits for their exits: a CPU profile is written as the process exits. */
export async function stopServers(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map((child) => {
      if (child.exitCode !== null) return undefined
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      return exited
    }),
  )
}

/** h2load on `path`: requests per second. */
export function h2loadOn(path: string): (port: number) => Promise<LoadResult> {
  return async (port) => {
    const r = await h2load(port, path)
    return { rate: r.rps, count: REQUESTS - r.failed - r.errored, failed: r.failed, errored: r.errored }
  }
}

/**
 * One line of the closing table of `npm run bench` (bench/summary.ts): a ratio, the
 * target it is held to (">= 0.9", "<= 1.01"; "" when it only informs) and whether it
 * met it (null without a target).
 */
export interface SummaryRow {
  label: string
  ratio: number
  target: string
  ok: boolean | null
  /** Where the ratio may lie, given the spread of what it was measured from (`medianRatioInterval`), if known. */
  interval?: [number, number]
}

/**
 * SERVER_NODE_FLAGS: Node's and V8's flags for the servers a benchmark starts, both transports
 * alike (`SERVER_NODE_FLAGS=--always-sparkplug`: V8's baseline code for every function at once).
 */
export function serverNodeFlags(): string[] {
  return (process.env['SERVER_NODE_FLAGS'] ?? '').split(/\s+/).filter((flag) => flag !== '')
}

/** A summary row; `ok` from the target (">= x" or "<= x"), null without one or without a ratio. */
export function summaryRow(label: string, ratio: number, target = '', interval?: [number, number]): SummaryRow {
  const m = /^\s*(>=|<=)\s*([\d.]+)\s*$/.exec(target)
  const ok = !m || !Number.isFinite(ratio) ? null : m[1] === '>=' ? ratio >= Number(m[2]) : ratio <= Number(m[2])
  return interval === undefined ? { label, ratio, target, ok } : { label, ratio, target, ok, interval }
}

/**
 * Writes bench/results/<name>.json: `data`, the Node version, the date and the summary
 * rows that bench/summary.ts prints at the end of `npm run bench`.
 */
export async function writeResults(name: string, data: Record<string, unknown>, summary: readonly SummaryRow[]): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true })
  const json = { node: process.version, date: new Date().toISOString(), ...data, summary }
  await writeFile(join(RESULTS_DIR, `${name}.json`), JSON.stringify(json, null, 2))
}

/** The targets of a comparison's ratios to its baseline, per mode: `rate` (this mode's over the baseline's), `cpu` (the baseline's CPU per unit over this mode's). */
export type Targets = Readonly<Record<string, { rate?: string; cpu?: string }>>

/** The targets of the comparisons that have one, by results name (see bench/README.md). */
export const TARGETS: Readonly<Record<string, Targets>> = {
  transport: { compat: { rate: '>= 1.0' } },
  'push-manifest': { 'push-manifest': { rate: '>= 0.9' } },
  'spdy-cost': { compat: { rate: '>= 0.9', cpu: '>= 0.9' } },
}

/** Loads `path` on each mode's server with h2load, alternating, and prints the table; the first mode is the baseline. */
export function compare(name: string, title: string, path: string, modes: readonly string[], targets?: Targets): Promise<void> {
  return compareWith(name, `${title}: GET ${path}, h2load -n ${REQUESTS} -c ${CLIENTS} -m ${STREAMS}`, 'req/s', modes, h2loadOn(path), targets)
}

interface ModeResult {
  rps: number[]
  cpu: number[]
  failed: number
  errored: number
}

/** Runs `load` on each mode's server, alternating rounds, and prints medians and ratios to the first mode. */
export async function compareWith(
  name: string,
  title: string,
  unit: string,
  modes: readonly string[],
  load: (port: number) => Promise<LoadResult>,
  targets: Targets = TARGETS[name] ?? {},
  // What the load counts, for "CPU per ...": req/s → req, pushes/s → push.
  per = unit.replace(/\/s$/, '').replace(/(es|s)$/, ''),
): Promise<void> {
  await requireH2load()
  const servers = new Map<string, BenchServer>()
  for (const mode of modes) servers.set(mode, await startServer(mode))
  const results = new Map<string, ModeResult>(modes.map((m) => [m, { rps: [], cpu: [], failed: 0, errored: 0 }]))
  try {
    for (const mode of modes) if (servers.get(mode)!.port !== undefined) await load(servers.get(mode)!.port!) // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 ? [...modes].reverse() : modes) {
        const port = servers.get(mode)!.port
        if (port === undefined) continue
        const pid = servers.get(mode)!.child.pid
        const cpuBefore = await cpuMicros(pid)
        const r = await load(port)
        const cpuAfter = await cpuMicros(pid)
        const into = results.get(mode)!
        into.rps.push(r.rate)
        if (cpuBefore !== undefined && cpuAfter !== undefined && r.count > 0) into.cpu.push((cpuAfter - cpuBefore) / r.count)
        into.failed += r.failed
        into.errored += r.errored
      }
    }
  } finally {
    await stopServers([...servers.values()].map((s) => s.child))
  }
  const heading = `${title}, ${ROUNDS} alternating rounds${PINNING}, Node ${process.version}`
  const summary = printComparison(heading, name, { unit, per }, servers, results, targets)
  await writeResults(name, { title, unit, results: Object.fromEntries(results) }, summary)
}

/** Prints a comparison's table; returns its ratios to the baseline (the first mode) as summary rows. */
function printComparison(
  heading: string,
  name: string,
  { unit, per }: { unit: string; per: string },
  servers: ReadonlyMap<string, BenchServer>,
  results: ReadonlyMap<string, ModeResult>,
  targets: Targets,
): SummaryRow[] {
  const modes = [...results.keys()]
  const base = median(results.get(modes[0]!)!.rps)
  const baseCpu = median(results.get(modes[0]!)!.cpu)
  const summary: SummaryRow[] = []
  console.log(`\n${heading}\n`)
  console.log(`| server | median ${unit} | rounds | failed | errored | vs ${modes[0]} | server CPU µs per ${per} | CPU vs ${modes[0]} |`)
  console.log('|---|---|---|---|---|---|---|---|')
  for (const mode of modes) {
    const server = servers.get(mode)!
    const r = results.get(mode)!
    if (server.port === undefined) {
      console.log(`| ${mode} | – | – | – | – | does not start: ${server.error} | – | – |`)
      if (mode !== modes[0]) summary.push(summaryRow(`${name}: ${mode} vs ${modes[0]}, ${unit} (does not start)`, Number.NaN))
      continue
    }
    const med = median(r.rps)
    const cpu = median(r.cpu)
    // CPU per unit: lower is better, so the ratio is the baseline's over this server's (above 1: cheaper).
    const ratio = med / base
    const cpuRatio = baseCpu / cpu
    console.log(
      `| ${mode} | ${med.toFixed(0)} | ${r.rps.map((x) => x.toFixed(0)).join(' ')} | ${r.failed} | ${r.errored} | ${Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a'} | ${Number.isFinite(cpu) ? cpu.toFixed(1) : 'n/a'} | ${Number.isFinite(cpuRatio) ? `${cpuRatio.toFixed(2)}×` : 'n/a'} |`,
    )
    if (mode === modes[0]) continue
    summary.push(summaryRow(`${name}: ${mode} vs ${modes[0]}, ${unit}`, ratio, targets[mode]?.rate))
    summary.push(summaryRow(`${name}: ${mode} vs ${modes[0]}, CPU per ${per} (${modes[0]}'s / ${mode}'s)`, cpuRatio, targets[mode]?.cpu))
  }
  return summary
}
