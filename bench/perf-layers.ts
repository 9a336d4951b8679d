/**
 * Which layer of a server spends its CPU, from Linux `perf` samples (bench/cold-load.ts with
 * PERF=1). A V8 CPU profile cannot tell spdy's cold cost from node:http2's: the sampler's own
 * overhead, in the process, is as large as the difference. `perf` samples from outside; with the
 * server started with `--perf-basic-prof --interpreted-frames-native-stack` (perfNodeFlags) its
 * JavaScript frames carry names and files, interpreted or compiled.
 *
 * Each sample of the main thread (the JavaScript thread; V8's compiler and GC threads are left
 * out) that is not waiting in epoll is charged to the layer of its innermost JavaScript frame:
 * the native code it called (V8's inline caches and builtins, OpenSSL under a socket write,
 * the kernel) is that layer's cost. A sample with no JavaScript frame is `native`: node:http2's
 * nghttp2, a TLS read, the event loop.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

/**
 * Node's flags for a server whose samples are read here. V8 also writes a log with them,
 * by default one per isolate in the current directory: `logDir` is where it goes.
 */
export function perfNodeFlags(logDir: string): string[] {
  return ['--perf-basic-prof', '--interpreted-frames-native-stack', `--logfile=${join(logDir, 'v8.log')}`, '--no-logfile-per-isolate']
}

/** The layers, in the order of the table: the first whose pattern the frame's file matches. */
export const LAYERS: ReadonlyArray<readonly [string, RegExp]> = [
  ['express-h2-push: spdy layer', /\/dist\/src\/compat\/spdy\//],
  ['express-h2-push: the rest', /\/dist\/(src|middleware|routes)\/|\/dist\/index\.js/],
  ['benchmark server', /\/dist\/bench\//],
  ['spdy-transport', /\/spdy-transport\//],
  ['spdy', /\/node_modules\/spdy\//],
  ['hpack.js', /\/hpack\.js\//],
  ['readable-stream', /\/readable-stream\//],
  ['handle-thing', /\/handle-thing\//],
  ['Express and its modules', /\/node_modules\//],
  ["node:http2's JavaScript", /node:internal\/http2\//],
  ["node:http's JavaScript", /node:_http_/],
  ["Node's streams", /node:internal\/streams\//],
  ["Node's net and tls", /node:(net|tls|_tls_|internal\/tls|internal\/stream_base)/],
  ["Node's fs", /node:(fs|internal\/fs)/],
  ["Node's events, timers, ticks", /node:(events|timers|internal\/timers|internal\/process\/task_queues|internal\/async_hooks)/],
  ["Node's other JavaScript", /node:/],
]
export const NATIVE = 'native (no JavaScript frame)'

/** A frame of perf's call chain that is JavaScript: `JS:` plus V8's tier mark and the function's file. */
function isJavaScript(symbol: string): boolean {
  return symbol.startsWith('JS:')
}

function layerOf(symbol: string): string {
  for (const [name, pattern] of LAYERS) if (pattern.test(symbol)) return name
  return 'other JavaScript'
}

export interface LayerSamples {
  /** Samples of the main thread that were not waiting for I/O. */
  busy: number
  /** Samples of the main thread waiting in epoll. */
  idle: number
  byLayer: Map<string, number>
}

/** No samples yet. */
export function noSamples(): LayerSamples {
  return { busy: 0, idle: 0, byLayer: new Map() }
}

/**
 * Reads `perf script -F pid,tid,ip,sym` output: samples separated by blank lines, each a
 * `pid/tid` line and its call chain, innermost frame first.
 */
export function layerSamples(script: string, into: LayerSamples = noSamples()): LayerSamples {
  for (const sample of script.split(/\n\s*\n/)) {
    const lines = sample.split('\n').filter((l) => l.trim() !== '')
    const head = lines[0]?.trim().split(/\s+/)[0]
    if (!head?.includes('/')) continue
    const [pid, tid] = head.split('/')
    if (pid !== tid) continue
    const frames = lines.slice(1).map((l) => l.trim().replace(/^[0-9a-f]+\s+/, ''))
    if (frames[0] !== undefined && /epoll_(p)?wait/.test(frames[0])) {
      into.idle++
      continue
    }
    into.busy++
    const js = frames.find(isJavaScript)
    const layer = js === undefined ? NATIVE : layerOf(js)
    into.byLayer.set(layer, (into.byLayer.get(layer) ?? 0) + 1)
  }
  return into
}

/** Whether `perf record` can sample here (installed, and allowed by the kernel). */
export async function perfWorks(): Promise<boolean> {
  try {
    await execFileP('perf', ['record', '-q', '-F', '999', '-o', '/dev/null', '--', 'true'], { timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

export interface Recording {
  /** Stops recording; resolves with the samples read by `layerSamples`. */
  stop(into?: LayerSamples): Promise<LayerSamples>
}

/** Samples process `pid` at `hz` with call chains into `file` until stopped. */
export async function recordProcess(pid: number, file: string, hz: number): Promise<Recording> {
  const perf: ChildProcess = spawn('perf', ['record', '-q', '-F', String(hz), '-g', '-p', String(pid), '-o', file], { stdio: 'ignore' })
  // perf attaches asynchronously: samples before it has would be lost, so wait until its file has a header.
  await new Promise((resolve) => setTimeout(resolve, 500))
  return {
    async stop(into) {
      if (perf.exitCode === null) {
        perf.kill('SIGINT')
        await once(perf, 'exit')
      }
      const { stdout } = await execFileP('perf', ['script', '-i', file, '-F', 'pid,tid,ip,sym'], { maxBuffer: 1 << 30 })
      // V8's map of the process's code, which perf read its JavaScript frames' names from.
      await rm(`/tmp/perf-${pid}.map`, { force: true })
      return layerSamples(stdout, into)
    },
  }
}
