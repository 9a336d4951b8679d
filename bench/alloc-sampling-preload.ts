/**
 * V8's sampling heap profiler in a server (bench/cold-load.ts with ALLOC=1), loaded with
 * `node --import <this file>` and ALLOC_PROFILE set. It samples allocations (one sample per
 * ALLOC_INTERVAL bytes, default 512) counting objects the garbage collector has already freed,
 * so a profile adds up to what was allocated, not what is live. On SIGUSR2 it writes the
 * profile since the last signal to `${ALLOC_PROFILE}.<n>.json` (n = 1, 2, ...) and starts again:
 * the first signal marks where the counted loads begin. Read with bench/alloc-sampling.ts.
 */
import { rename, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'

const out = process.env['ALLOC_PROFILE']
if (out === undefined) throw new Error('alloc-sampling-preload: ALLOC_PROFILE (where to write the profiles) is not set')
const session = new Session()
session.connect()
const interval = Number(process.env['ALLOC_INTERVAL'] ?? 512)
const start = () =>
  session.post('HeapProfiler.startSampling', {
    samplingInterval: interval,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
await session.post('HeapProfiler.enable')
await start()
let written = 0
process.on('SIGUSR2', async () => {
  const { profile } = await session.post('HeapProfiler.stopSampling')
  written++
  // Written before sampling starts again, so that writing it is not counted; whole or not at
  // all, as the benchmark reads the file once it exists (and waits for it before its next load).
  await writeFile(`${out}.${written}.json.part`, JSON.stringify(profile))
  await rename(`${out}.${written}.json.part`, `${out}.${written}.json`)
  await start()
})
