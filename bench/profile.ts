/**
 * Reads the V8 CPU profiles written by a benchmark run with CPU_PROF=1 and prints,
 * per server, where its time went: idle, garbage collection, and the functions with
 * the most self time, marking those in this package's own code.
 *   CPU_PROF=1 npm run bench:push && npm run bench:profile
 *   npm run bench:profile -- push-manifest        (one server; TOP=40 for more rows)
 */
import { readdir, readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { PROFILE_DIR, type Profile } from './harness.js'

const TOP = Number(process.env['TOP'] ?? 25)
const root = resolve('.') + '/'
const dir = pathToFileURL(PROFILE_DIR + '/')
const only = process.argv[2]

function where(url: string): string {
  if (!url) return ''
  const path = url.replace(/^file:\/\//, '').replace(root, '')
  return path.startsWith('node_modules/') ? path.replace(/^node_modules\/([^/]+(?:\/[^/]+)?)\/.*/, '$1') : path
}

function isOurs(url: string): boolean {
  const path = url.replace(/^file:\/\//, '').replace(root, '')
  return /^(dist\/)?(src|middleware|routes)\//.test(path)
}

// bench/results/profiles/<server>/CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile:
// thread 0 is the main thread (others are worker threads).
const files: string[] = []
for (const server of (await readdir(dir).catch(() => [] as string[])).sort()) {
  if (only && server !== only) continue
  const main = (await readdir(new URL(`${server}/`, dir)).catch(() => [] as string[])).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)).sort()
  if (main.length > 0) files.push(`${server}/${main.at(-1)}`)
}
if (files.length === 0) {
  console.error(`bench:profile: no profiles in ${PROFILE_DIR}; run a benchmark with CPU_PROF=1 first`)
  process.exit(1)
}
for (const file of files) {
  const profile = JSON.parse(await readFile(new URL(file, dir), 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, { us: number; ours: boolean }>()
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!)!
    const us = profile.timeDeltas[i] ?? 0
    total += us
    const { functionName, url, lineNumber } = node.callFrame
    const key = url ? `${functionName || '(anonymous)'} ${where(url)}:${lineNumber + 1}` : functionName
    const entry = self.get(key) ?? { us: 0, ours: isOurs(url) }
    entry.us += us
    self.set(key, entry)
  }
  const pct = (us: number) => ((100 * us) / total).toFixed(1).padStart(5) + '%'
  const ours = [...self.values()].filter((e) => e.ours).reduce((a, e) => a + e.us, 0)
  console.log(
    `\n${file}: ${(total / 1e6).toFixed(1)} s sampled; idle ${pct(self.get('(idle)')?.us ?? 0)}, GC ${pct(self.get('(garbage collector)')?.us ?? 0)}, this package's code ${pct(ours)} (self time)\n`,
  )
  for (const [key, e] of [...self.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, TOP)) {
    console.log(`${pct(e.us)}  ${e.ours ? '*' : ' '} ${key}`)
  }
}
