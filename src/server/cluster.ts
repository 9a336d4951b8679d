/**
 * runClustered: one server per core with node:cluster. The primary forks the workers
 * (they share its listening sockets, so `listen(port)` and even `listen(0)` give every
 * worker the same port), replaces a worker that dies (with a growing delay, and gives
 * up after too many deaths in a row), and on SIGTERM/SIGINT signals every worker to
 * shut down gracefully, then exits 0 once they all have.
 */
import cluster, { type Worker } from 'node:cluster'
import { availableParallelism } from 'node:os'
import { validateOptions } from '../options/validate.js'

export interface ClusterOptions {
  /**
   * Worker processes. `1`: no cluster, `start` runs in this process. Default
   * `os.availableParallelism()`.
   */
  workers?: number
  /**
   * How long the primary waits, after SIGTERM/SIGINT, for every worker to exit before
   * it kills the rest (SIGKILL) and exits 1, in ms. Keep it above the workers'
   * `shutdownTimeout`. Default `10000`.
   */
  drainTimeout?: number
  /** Worker deaths allowed within `restartWindow`; one more and the primary stops every worker and exits 1. Default `10`. */
  maxRestarts?: number
  /** The window `maxRestarts` counts deaths in, in ms. Default `60000`. */
  restartWindow?: number
  /** Where the primary writes its lines (worker started, died, replaced, draining). Default `console.error`. */
  log?: (line: string) => void
}

const DEFAULTS = {
  drainTimeout: 10_000,
  maxRestarts: 10,
  restartWindow: 60_000,
  log: (line: string): void => console.error(line),
} as const

const MAX_TIMER_MS = 2 ** 31 - 1

const OPTION_TYPES = {
  workers: { min: 1, max: 1024, integer: true },
  drainTimeout: { min: 0, max: MAX_TIMER_MS, unit: 'ms' },
  maxRestarts: { min: 0, max: 2 ** 32 - 1, integer: true },
  restartWindow: { min: 1, max: MAX_TIMER_MS, unit: 'ms' },
  log: 'function',
} as const

/** The first replacement starts at once; each further death within the window doubles the wait, up to this. */
const MAX_RESTART_DELAY_MS = 5000
const FIRST_RESTART_DELAY_MS = 100

const PREFIX = 'express-h2-push cluster:'

/**
 * Runs `start` in `workers` node:cluster worker processes, or in this process when
 * `workers` is 1 or this process is already a worker.
 *
 * `start` should create and listen on the server with `createServer(app, { handleSignals: true })`
 * (or end its own work on SIGTERM and exit 0): that is how each worker drains when the
 * primary is told to stop.
 *
 * @param start Starts one server; runs once in every worker.
 * @param options See {@link ClusterOptions}.
 * @example
 * ```ts
 * await runClustered(async () => {
 *   const server = await createServer(app, { handleSignals: true })
 *   server.listen(8443)
 * }, { workers: 4 })
 * ```
 */
export async function runClustered(start: () => unknown, options: Readonly<ClusterOptions> = {}): Promise<void> {
  validateOptions('runClustered', options, OPTION_TYPES)
  if (typeof start !== 'function') {
    throw new TypeError(`runClustered: expected a start function as the first argument, got ${typeof start}`)
  }
  const workers = options.workers ?? availableParallelism()
  if (workers === 1 || !cluster.isPrimary) {
    await start()
    return
  }
  runPrimary(workers, { ...DEFAULTS, ...options })
}

type PrimarySettings = Required<Omit<ClusterOptions, 'workers'>>

function describeExit(code: number | null, signal: string | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${code}`
}

function runPrimary(count: number, settings: PrimarySettings): void {
  const { log } = settings
  const deaths: number[] = []
  let draining = false
  let clean = true
  let pendingRestarts = 0
  const restartTimers = new Set<NodeJS.Timeout>()
  // Workers whose process has not exited. Not cluster.workers: a worker stays listed there
  // until its IPC channel closes too, which may come after its 'exit' (or much later, when
  // a process it started still holds the channel).
  const running = new Set<Worker>()

  const fork = (): Worker => {
    const worker = cluster.fork()
    running.add(worker)
    worker.once('online', () => log(`${PREFIX} worker ${worker.process.pid} started`))
    return worker
  }

  const live = (): Worker[] => [...running]

  const drain = (why: string): void => {
    if (draining) return
    draining = true
    for (const timer of restartTimers) clearTimeout(timer)
    restartTimers.clear()
    pendingRestarts = 0
    const workers = live()
    log(`${PREFIX} ${why}: draining ${workers.length} worker(s)`)
    if (workers.length === 0) return finish()
    for (const worker of workers) worker.process.kill('SIGTERM')
    const timer = setTimeout(() => {
      const left = live()
      log(`${PREFIX} ${left.length} worker(s) still running after ${settings.drainTimeout} ms: killing them`)
      for (const worker of left) worker.process.kill('SIGKILL')
      clean = false
    }, settings.drainTimeout)
    timer.unref()
  }

  const finish = (): void => {
    log(`${PREFIX} all workers stopped`)
    process.exit(clean ? 0 : 1)
  }

  cluster.on('exit', (worker, code, signal) => {
    running.delete(worker)
    const pid = worker.process.pid
    if (draining) {
      // A worker that drained exits 0; one that got the signal after its own shutdown ended dies by it.
      if (!(code === 0 || signal === 'SIGTERM' || signal === 'SIGINT')) {
        clean = false
        log(`${PREFIX} worker ${pid} ${describeExit(code, signal)} while draining`)
      }
      if (live().length === 0) finish()
      return
    }
    if (worker.exitedAfterDisconnect) {
      log(`${PREFIX} worker ${pid} disconnected and exited: not replaced`)
      if (live().length === 0 && pendingRestarts === 0) finish()
      return
    }
    const now = Date.now()
    deaths.push(now)
    while (deaths.length > 0 && deaths[0]! <= now - settings.restartWindow) deaths.shift()
    if (deaths.length > settings.maxRestarts) {
      clean = false
      log(`${PREFIX} worker ${pid} ${describeExit(code, signal)}; ${deaths.length} deaths within ${settings.restartWindow} ms: giving up`)
      drain('too many worker deaths')
      return
    }
    const delay = deaths.length <= 1 ? 0 : Math.min(FIRST_RESTART_DELAY_MS * 2 ** (deaths.length - 2), MAX_RESTART_DELAY_MS)
    log(`${PREFIX} worker ${pid} ${describeExit(code, signal)}; starting a replacement${delay ? ` in ${delay} ms` : ''}`)
    pendingRestarts++
    const timer = setTimeout(() => {
      restartTimers.delete(timer)
      pendingRestarts--
      fork()
    }, delay)
    restartTimers.add(timer)
  })

  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => drain(signal))
  log(`${PREFIX} primary ${process.pid} starting ${count} workers`)
  for (let i = 0; i < count; i++) fork()
}
