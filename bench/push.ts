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
 *   npm run bench:push   (ROUNDS=5 PROCESSES=4 CONNECTIONS=50 M=8 ASSET_BYTES=1024)
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { compareWith, type LoadResult } from './harness.js'

const run = promisify(execFile)
const PROCESSES = Number(process.env['PROCESSES'] ?? 4)
// libnghttp2 caps promised-but-unopened streams at 200 per connection: M × 3 stays below.
const M = Number(process.env['M'] ?? 8)
const CONNECTIONS_PER_PROCESS = Number(process.env['CONNECTIONS'] ?? 50)
const PUSHES_PER_REQUEST = 3

/** One nghttp connection after another, M requests each; answers the requests of runs that failed (exit code). */
async function nghttpProcess(port: number): Promise<number> {
  let failed = 0
  for (let c = 0; c < CONNECTIONS_PER_PROCESS; c++) {
    try {
      const { stderr } = await run('nghttp', ['-n', '-m', String(M), `--max-concurrent-streams=${M}`, `https://127.0.0.1:${port}/p`], {
        timeout: 120_000,
        maxBuffer: 64 << 20,
      })
      if (/not processed/.test(stderr)) failed += M
    } catch {
      failed += M
    }
  }
  return failed
}

async function nghttpLoad(port: number): Promise<LoadResult> {
  const start = process.hrtime.bigint()
  const failed = (await Promise.all(Array.from({ length: PROCESSES }, () => nghttpProcess(port)))).reduce((a, b) => a + b, 0)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const requests = PROCESSES * CONNECTIONS_PER_PROCESS * M - failed
  return { rate: (requests * PUSHES_PER_REQUEST) / seconds, failed, errored: 0 }
}

const title = `Push path: GET /p pushing 3 × ${process.env['ASSET_BYTES'] ?? 1024} B, ${PROCESSES} processes × ${CONNECTIONS_PER_PROCESS} × nghttp -n -m ${M}`
await compareWith('push-manifest', `${title} (manifest vs handwritten res.push)`, 'pushes/s', ['push-handwritten', 'push-manifest'], nghttpLoad)
await compareWith('push-dynamic', `${title} (dispatched through the app vs files)`, 'pushes/s', ['push-manifest', 'push-dynamic'], nghttpLoad)
