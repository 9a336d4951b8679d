/**
 * Where a server's CPU went, by package: reads one V8 CPU profile (the newest main-thread
 * profile of a server written with CPU_PROF=1, or a .cpuprofile file given by path) and
 * prints the busy time (idle excluded) by package, and the functions with the most self
 * time, as shares of the busy time.
 *   CPU_PROF=1 CLIENTS=20 node dist/bench/spdy-cost.js && node dist/bench/profile-packages.js compat
 *   node dist/bench/profile-packages.js path/to/file.cpuprofile      (TOP=40 for more rows)
 */
import { readdir, readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { PROFILE_DIR, type Profile } from './harness.js'

const TOP = Number(process.env['TOP'] ?? 30)
const root = resolve('.') + '/'

async function profileFile(arg: string): Promise<string> {
  if (arg.endsWith('.cpuprofile')) return arg
  const dir = join(PROFILE_DIR, arg)
  const main = (await readdir(dir)).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f)).sort()
  if (main.length === 0) throw new Error(`no main-thread profile in ${dir}`)
  return join(dir, main.at(-1)!)
}

/** The package a script belongs to (the innermost node_modules folder), our own folders, or Node's internals. */
function packageOf(url: string): string {
  if (!url) return '(vm)'
  if (url.startsWith('node:')) return 'node:' + (url.slice(5).split('/')[0] ?? '')
  const path = url.replace(/^file:\/\//, '').replace(root, '')
  const m = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)
  if (m) return m[1]!
  return path.replace(/^(dist\/)?([^/]+)\/.*/, '$2/')
}

function where(url: string): string {
  const path = url.replace(/^file:\/\//, '').replace(root, '')
  const m = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)/.exec(path)
  return m ? `${m[1]}/${m[2]}` : path
}

for (const arg of process.argv.slice(2)) {
  const file = await profileFile(arg)
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const fn = new Map<string, number>()
  const pkg = new Map<string, number>()
  let total = 0
  let idle = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const { functionName, url, lineNumber } = byId.get(profile.samples[i]!)!.callFrame
    const us = profile.timeDeltas[i] ?? 0
    total += us
    if (functionName === '(idle)' || functionName === '(program)') {
      if (functionName === '(idle)') idle += us
      if (functionName === '(idle)') continue
    }
    const key = url ? `${functionName || '(anonymous)'} ${where(url)}:${lineNumber + 1}` : functionName
    fn.set(key, (fn.get(key) ?? 0) + us)
    const p = url ? packageOf(url) : functionName
    pkg.set(p, (pkg.get(p) ?? 0) + us)
  }
  const busy = total - idle
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`
  console.log(`\n${file}\n${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (idle excluded below)\n\nby package:`)
  for (const [k, us] of [...pkg].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`${pct(us)}  ${k}`)
  console.log('\nby function (self time):')
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${pct(us)}  ${k}`)
}
