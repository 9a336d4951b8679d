/**
 * What a server allocates, from V8's sampling heap profiler (bench/cold-load.ts with ALLOC=1).
 *
 * Loaded into the server with `node --import <this file>`: it samples allocations (one sample per
 * ALLOC_INTERVAL bytes, default 512) counting objects the garbage collector has already freed,
 * so the profile adds up to what was allocated, not what is live. On SIGUSR2 it writes the
 * profile since the last signal to `${ALLOC_PROFILE}.<n>.json` (n = 1, 2, ...) and starts again:
 * the first signal marks where the counted loads begin.
 *
 * Read with `allocatedBytes` and `allocationSites`.
 */
import { rename, writeFile } from 'node:fs/promises'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
export interface SamplingNode {
  callFrame: CallFrame
  selfSize: number
  children: SamplingNode[]
}
export interface SamplingProfile {
  head: SamplingNode
}

/** Every byte the profile counted. */
export function allocatedBytes(profile: SamplingProfile): number {
  let total = 0
  const walk = (node: SamplingNode): void => {
    total += node.selfSize
    for (const child of node.children) walk(child)
  }
  walk(profile.head)
  return total
}

/**
 * The functions that allocated the most, largest first: `name file:line` and bytes. A V8
 * builtin (`push`, `next`, a constructor) is named with the function that called it.
 */
export function allocationSites(profile: SamplingProfile, top: number, root: string): Array<{ site: string; bytes: number }> {
  const bySite = new Map<string, number>()
  const label = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^file:\/\//, '').replace(root, '')}:${f.lineNumber + 1}`
  const walk = (node: SamplingNode, parent: SamplingNode | undefined): void => {
    if (node.selfSize > 0) {
      const f = node.callFrame
      const site = f.url === '' && parent ? `${f.functionName || '(native)'} in ${label(parent.callFrame)}` : label(f)
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize)
    }
    for (const child of node.children) walk(child, node)
  }
  walk(profile.head, undefined)
  return [...bySite]
    .map(([site, bytes]) => ({ site, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, top)
}

const out = process.env['ALLOC_PROFILE']
if (out !== undefined && process.env['ALLOC_SAMPLING_LOADED'] === undefined) {
  process.env['ALLOC_SAMPLING_LOADED'] = '1'
  const { Session } = await import('node:inspector/promises')
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
}
