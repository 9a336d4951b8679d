/**
 * Transport benchmark: GET /crt req/s on stock spdy vs spdy + the compatibility
 * layer, same app, same run, alternating rounds; prints medians and the ratio.
 *
 *   npm run bench:transport   (ROUNDS=5 REQUESTS=20000 CLIENTS=50 STREAMS=10)
 */
import { spawn, execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../', import.meta.url))
const ROUNDS = Number(process.env['ROUNDS'] ?? 5)
const REQUESTS = Number(process.env['REQUESTS'] ?? 20000)
const CLIENTS = Number(process.env['CLIENTS'] ?? 50)
const STREAMS = Number(process.env['STREAMS'] ?? 10)

try {
  await run('h2load', ['--version'])
} catch {
  console.error('bench: h2load not found; install it with `apt-get install nghttp2-client`')
  process.exit(1)
}

async function startServer(mode: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/crt-server.ts'], {
    cwd: root,
    env: { ...process.env, MODE: mode },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const port = await new Promise<number | undefined>((resolve) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const m = /listening (\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', () => resolve(undefined))
  })
  return { child, port, err: () => err }
}

async function h2load(port: number) {
  const { stdout } = await run('h2load', ['-n', String(REQUESTS), '-c', String(CLIENTS), '-m', String(STREAMS), `https://127.0.0.1:${port}/crt`], {
    maxBuffer: 16 * 1024 * 1024,
  })
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout)?.[1])
  const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout)
  return { rps, succeeded: Number(m?.[1]), failed: Number(m?.[2]), errored: Number(m?.[3]) }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : NaN
}

const modes = ['stock', 'compat'] as const
const servers = Object.fromEntries(await Promise.all(modes.map(async (m) => [m, await startServer(m)] as const)))
const results: Record<string, { rps: number[]; failed: number; errored: number; note?: string }> = {}
for (const mode of modes) {
  results[mode] = { rps: [], failed: 0, errored: 0 }
  if (servers[mode]!.port === undefined) results[mode]!.note = `does not start on Node ${process.version}: ${servers[mode]!.err().split('\n').find((l) => /Error/.test(l)) ?? 'exited'}`
}
for (const mode of modes) if (servers[mode]!.port !== undefined) await h2load(servers[mode]!.port!) // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of round % 2 ? [...modes].reverse() : modes) {
    const port = servers[mode]!.port
    if (port === undefined) continue
    const r = await h2load(port)
    results[mode]!.rps.push(r.rps)
    results[mode]!.failed += r.failed
    results[mode]!.errored += r.errored
  }
}
for (const s of Object.values(servers)) s.child.kill('SIGTERM')

const base = median(results['stock']!.rps)
console.log(`\n/crt over HTTP/2, h2load -n ${REQUESTS} -c ${CLIENTS} -m ${STREAMS}, ${ROUNDS} alternating rounds, Node ${process.version}\n`)
console.log('| server | median req/s | rounds | failed | errored | vs stock |')
console.log('|---|---|---|---|---|---|')
for (const mode of modes) {
  const r = results[mode]!
  if (r.note) {
    console.log(`| ${mode} | – | – | – | – | ${r.note} |`)
    continue
  }
  const med = median(r.rps)
  console.log(`| ${mode} | ${med.toFixed(0)} | ${r.rps.map((x) => x.toFixed(0)).join(' ')} | ${r.failed} | ${r.errored} | ${Number.isFinite(base) ? (med / base).toFixed(2) + '×' : 'n/a'} |`)
}
await mkdir(new URL('results/', import.meta.url), { recursive: true })
await writeFile(new URL('results/transport.json', import.meta.url), JSON.stringify({ node: process.version, REQUESTS, CLIENTS, STREAMS, results }, null, 2))
