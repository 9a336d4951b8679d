/**
 * The demo on node:cluster workers (WORKERS=2): one shared port, connections served by
 * both workers, a killed worker replaced, SIGTERM drains every worker (held streams
 * ended) and the primary exits 0; a crash loop ends instead of spinning.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { runClustered } from '../index.js'
import { spawnServer, type ChildServer } from './helpers/server.js'
import { H2Client, h2get } from './helpers/h2.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const LISTENING = /listening on (https:\/\/127\.0\.0\.1:\d+) \(transport: \w+, worker (\d+)\)/g
/** createServer's default: the longest a worker's graceful shutdown may take. */
const SHUTDOWN_TIMEOUT_MS = 5000

/** Resolves once `text()` matches `test`, checked on every chunk `child` prints. */
function waitForOutput(demo: ChildServer, check: (out: string) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const text = (): string => demo.stdout() + demo.stderr()
  if (check(text())) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onData = (): void => {
      if (!check(text())) return
      cleanup()
      resolve()
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`no ${what} in ${timeoutMs} ms:\n${text()}`))
    }, timeoutMs)
    const cleanup = (): void => {
      clearTimeout(timer)
      demo.child.stdout?.off('data', onData)
      demo.child.stderr?.off('data', onData)
    }
    demo.child.stdout?.on('data', onData)
    demo.child.stderr?.on('data', onData)
  })
}

function listening(demo: ChildServer): { url: string; pid: number }[] {
  return [...demo.stdout().matchAll(LISTENING)].map((m) => ({ url: m[1]!, pid: Number(m[2]) }))
}

function servedBy(demo: ChildServer, path: string): number[] {
  const line = new RegExp(`^worker (\\d+): GET ${path} 200`, 'gm')
  return [...demo.stdout().matchAll(line)].map((m) => Number(m[1]))
}

/** A fixture script run through tsx, its stdout and stderr collected into one string. */
function spawnFixture(script: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    stdio: 'pipe',
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d))
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  return { child, output: (): string => out, exited }
}

describe('cluster: WORKERS=2 npm start', () => {
  let demo: ChildServer

  before(async () => {
    demo = await spawnServer('routes/server.ts', /listening on (https:\/\/127\.0\.0\.1:\d+)/, { WORKERS: '2' })
    await waitForOutput(demo, (out) => [...out.matchAll(LISTENING)].length >= 2, 'second worker listening')
  })
  after(async () => {
    await demo.stop('SIGKILL')
  })

  test('PORT=0: both workers listen on the one port the primary picked', () => {
    const workers = listening(demo)
    assert.equal(workers.length, 2)
    assert.equal(workers[0]!.url, workers[1]!.url)
    assert.notEqual(workers[0]!.pid, workers[1]!.pid)
    assert.notEqual(workers[0]!.pid, demo.child.pid)
  })

  test('connections are served by both workers', async () => {
    const before = servedBy(demo, '/crt').length
    for (let i = 0; i < 6; i++) assert.equal((await h2get(demo.url, '/crt')).status, 200)
    await waitForOutput(demo, () => servedBy(demo, '/crt').length >= before + 6, 'six /crt log lines')
    const pids = new Set(servedBy(demo, '/crt').slice(before))
    assert.equal(pids.size, 2, `served by ${[...pids].join(', ')}`)
  })

  test('a worker killed with SIGKILL is logged and replaced; the port keeps serving', async () => {
    const victim = listening(demo)[0]!.pid
    process.kill(victim, 'SIGKILL')
    await waitForOutput(demo, (out) => out.includes(`worker ${victim} was killed by SIGKILL; starting a replacement`), 'replacement log line')
    await waitForOutput(demo, () => listening(demo).length >= 3, 'replacement listening')
    const replacement = listening(demo)[2]!
    assert.equal(replacement.url, demo.url)
    const before = servedBy(demo, '/crt').length
    for (let i = 0; i < 4; i++) assert.equal((await h2get(demo.url, '/crt')).status, 200)
    await waitForOutput(demo, () => servedBy(demo, '/crt').length >= before + 4, 'four /crt log lines')
    const pids = new Set(servedBy(demo, '/crt').slice(before))
    assert.ok(!pids.has(victim))
    assert.ok(pids.has(replacement.pid), `served by ${[...pids].join(', ')}, replacement ${replacement.pid}`)
  })
})

describe('cluster: SIGTERM to the primary', () => {
  test('drains every worker: held /header streams get END_STREAM, the primary exits 0 within shutdownTimeout', async () => {
    const demo = await spawnServer('routes/server.ts', /listening on (https:\/\/127\.0\.0\.1:\d+)/, { WORKERS: '2' })
    const clients: H2Client[] = []
    try {
      await waitForOutput(demo, (out) => [...out.matchAll(LISTENING)].length >= 2, 'second worker listening')
      // Connections alternate between the workers: four hold streams on both.
      const held = []
      for (let i = 0; i < 4; i++) {
        const client = new H2Client(demo.url)
        clients.push(client)
        const stream = client.open('/header')
        assert.equal(Number((await stream.response)[':status']), 204)
        held.push(stream)
      }
      // morgan logs a held response when it ends: which worker held each is checked after the drain.
      const stopped = demo.stop('SIGTERM')
      await Promise.all(held.map((h) => h.closed))
      const { code, signal, ms } = await stopped
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, demo.stdout() + demo.stderr())
      assert.ok(ms < SHUTDOWN_TIMEOUT_MS, `primary exited after ${ms} ms`)
      for (const h of held) assert.equal(h.ended, true, 'held stream ended with END_STREAM')
      const holders = new Set([...demo.stdout().matchAll(/^worker (\d+): GET \/header/gm)].map((m) => m[1]))
      assert.equal(holders.size, 2, demo.stdout())
      assert.match(demo.stderr(), /SIGTERM: draining 2 worker\(s\)/)
      assert.match(demo.stderr(), /all workers stopped/)
    } finally {
      for (const client of clients) client.session.destroy()
      await demo.stop('SIGKILL')
    }
  })
})

describe('runClustered', () => {
  test('a worker that always dies: replaced with a growing delay, then the primary gives up and exits 1', async () => {
    const fixture = spawnFixture('test/fixtures/cluster-crash.ts')
    const [code] = await fixture.exited
    const out = fixture.output()
    assert.equal(code, 1, out)
    // maxRestarts: 3: three deaths are replaced (the third replacement may be cancelled when the fourth death comes first).
    assert.equal([...out.matchAll(/starting a replacement/g)].length, 3, out)
    assert.ok([...out.matchAll(/failing/g)].length >= 4, out)
    assert.match(out, /exited with code 3; starting a replacement\n/)
    assert.match(out, /exited with code 3; starting a replacement in 100 ms/)
    assert.match(out, /4 deaths within 60000 ms: giving up/)
  })

  test("SIGTERM: a worker's 'exit' before its IPC channel closes still counts as stopped; the primary logs it and exits 0", async () => {
    const { child, output, exited } = spawnFixture('test/fixtures/cluster-drain.ts')
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => {
        if ((output().match(/ready/g) ?? []).length >= 2) resolve()
      })
      void exited.then(() => reject(new Error(`exited before both workers were ready:\n${output()}`)))
    })
    child.kill('SIGTERM')
    const [code, signal] = await exited
    const out = output()
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, out)
    assert.match(out, /SIGTERM: draining 2 worker\(s\)/)
    assert.match(out, /all workers stopped/, out)
  })

  test('bad options throw ERR_H2PUSH_INVALID_OPTION before any worker starts', async () => {
    const rows: [unknown, RegExp][] = [
      [{ workers: 0 }, /`workers` must be an integer from 1 to 1024, got 0/],
      [{ workers: 2.5 }, /`workers` must be an integer/],
      [{ worker: 2 }, /unknown option "worker"\. Did you mean `workers`\?/],
      [{ drainTimeout: -1 }, /`drainTimeout` must be a number \(ms\)/],
      [{ log: 'stderr' }, /`log` must be a function/],
    ]
    for (const [options, message] of rows) {
      await assert.rejects(
        runClustered(() => {}, options as never),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'ERR_H2PUSH_INVALID_OPTION')
          assert.match(err.message, message)
          return true
        },
      )
    }
  })

  test('workers: 1 runs start in this process', async () => {
    let ran = 0
    await runClustered(() => void ran++, { workers: 1 })
    assert.equal(ran, 1)
  })
})
