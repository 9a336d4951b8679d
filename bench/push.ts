/**
 * The push path: pushes per second for GET /p, which pushes 3 assets.
 * - pushManifest (files under root) vs a handwritten handler calling spdy's res.push
 *   with the same bodies and headers (target ≥ 0.9×);
 * - pushManifest with the assets produced by dispatching through the app vs from
 *   files (the cost of a dynamic push).
 * Load: PROCESSES parallel loops of CONNECTIONS runs of `nghttp -n -m M
 * --max-concurrent-streams=M` (h2load cannot load push: it always sends ENABLE_PUSH=0).
 * nghttp exits 0 even when the connection failed, so a run counts its requests as
 * failed when it exits non-zero or prints "Some requests were not processed" (what
 * libnghttp2 does when a server opens more pushed streams than
 * --max-concurrent-streams allows).
 * Counted: pushes that completed (`nghttp --stat` rows marked `*`), per second.
 *   npm run bench:push   (ROUNDS=5 PROCESSES=4 CONNECTIONS=50 M=8 ASSET_BYTES=1024 DYNAMIC_SIZES=1024,65536)
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { compareWith, pinned, type LoadResult } from './harness.js'

const run = promisify(execFile)
const PROCESSES = Number(process.env['PROCESSES'] ?? 4)
// libnghttp2 caps promised-but-unopened streams at 200 per connection: M × 3 stays below.
const M = Number(process.env['M'] ?? 8)
const CONNECTIONS_PER_PROCESS = Number(process.env['CONNECTIONS'] ?? 50)
const PUSHES_PER_REQUEST = 3
// Windows large enough for every pushed byte (the manifest caps a push's bytes at the client's window).
const WINDOWS = ['-w', '24', '-W', '30']

/** A completed pushed stream in `nghttp --stat` output: its id, then `*` before requestStart. */
const PUSHED_ROW = /^\s*\d+\s+\+\S+\s+\*/gm

/**
 * One nghttp connection after another, M requests each. Counts the pushes that
 * completed, and the requests of runs that failed (exit code, or "Some requests were
 * not processed") or got fewer pushes than asked.
 */
async function nghttpProcess(port: number): Promise<{ pushes: number; failed: number }> {
  let failed = 0
  let pushes = 0
  for (let c = 0; c < CONNECTIONS_PER_PROCESS; c++) {
    try {
      const { stdout, stderr } = await run(
        ...pinned('load', 'nghttp', ['-ns', ...WINDOWS, '-m', String(M), `--max-concurrent-streams=${M}`, `https://127.0.0.1:${port}/p`]),
        {
          timeout: 120_000,
          maxBuffer: 64 << 20,
        },
      )
      const got = stdout.match(PUSHED_ROW)?.length ?? 0
      pushes += got
      if (/not processed/.test(stderr) || got < M * PUSHES_PER_REQUEST) failed += M
    } catch {
      failed += M
    }
  }
  return { pushes, failed }
}

async function nghttpLoad(port: number): Promise<LoadResult> {
  const start = process.hrtime.bigint()
  const runs = await Promise.all(Array.from({ length: PROCESSES }, () => nghttpProcess(port)))
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const pushes = runs.reduce((a, r) => a + r.pushes, 0)
  return { rate: pushes / seconds, count: pushes, failed: runs.reduce((a, r) => a + r.failed, 0), errored: 0 }
}

const load = `${PROCESSES} processes × ${CONNECTIONS_PER_PROCESS} × nghttp -n -m ${M}`
const smallBytes = Number(process.env['ASSET_BYTES'] ?? 1024)
process.env['ASSET_BYTES'] = String(smallBytes)
await compareWith(
  'push-manifest',
  `Push path: GET /p pushing 3 × ${smallBytes} B, ${load} (manifest vs handwritten res.push)`,
  'pushes/s',
  ['push-handwritten', 'push-manifest'],
  nghttpLoad,
)
// The cost of a dynamic push, at each asset size (DYNAMIC_SIZES, bytes).
for (const bytes of (process.env['DYNAMIC_SIZES'] ?? `${smallBytes},65536`).split(',').map(Number)) {
  process.env['ASSET_BYTES'] = String(bytes)
  await compareWith(
    `push-dynamic-${bytes}`,
    `Push path: GET /p pushing 3 × ${bytes} B, ${load} (dispatched through the app vs files)`,
    'pushes/s',
    ['push-manifest', 'push-dynamic'],
    nghttpLoad,
  )
}
