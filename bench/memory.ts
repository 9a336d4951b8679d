/**
 * Memory per held stream: 5 000 held-open `/header` streams over 50 connections; the
 * server's RSS and heap after GC at rest, with the streams held, and after every
 * client left. Target: at most 8 KB per held stream, and back near the start after.
 *   npm run bench:memory   (STREAMS=5000 CONNECTIONS=50)
 */
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import http2 from 'node:http2'
import { fileURLToPath } from 'node:url'
import { mkdir, writeFile } from 'node:fs/promises'

const STREAMS = Number(process.env['STREAMS'] ?? 5000)
const CONNECTIONS = Number(process.env['CONNECTIONS'] ?? 50)
const root = fileURLToPath(new URL('../', import.meta.url))

interface Memory {
  rss: number
  heapUsed: number
}

function measure(child: ChildProcess): Promise<Memory> {
  child.send('measure')
  return once(child, 'message').then(([m]) => m as Memory)
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1)
const rows: string[] = []
const json: Record<string, unknown> = {}
for (const transport of ['spdy', 'http2']) {
  const child = fork('bench/memory-server.ts', [], { cwd: root, execArgv: ['--expose-gc', '--import', 'tsx'], env: { ...process.env, TRANSPORT: transport, NODE_ENV: 'production' } })
  const [{ port }] = (await once(child, 'message')) as [{ port: number }]
  const url = `https://127.0.0.1:${port}`
  // Warm up the paths once, then the baseline.
  const warm = http2.connect(url, { rejectUnauthorized: false })
  await once(warm.request({ ':path': '/crt' }).resume(), 'end')
  warm.destroy()
  const start = await measure(child)
  const sessions = Array.from({ length: CONNECTIONS }, () => {
    const s = http2.connect(url, { rejectUnauthorized: false, settings: { enablePush: false } })
    s.on('error', () => {})
    return s
  })
  const perConnection = Math.ceil(STREAMS / CONNECTIONS)
  await Promise.all(
    sessions.flatMap((s) =>
      Array.from({ length: perConnection }, () => {
        const req = s.request({ ':path': '/header' })
        req.on('error', () => {})
        return once(req, 'response')
      }),
    ),
  )
  const held = await measure(child)
  for (const s of sessions) s.destroy()
  await new Promise((r) => setTimeout(r, 1000))
  const after = await measure(child)
  child.send('stop')
  await once(child, 'exit')
  const streams = perConnection * CONNECTIONS
  const heapPer = (held.heapUsed - start.heapUsed) / streams
  const rssPer = (held.rss - start.rss) / streams
  rows.push(
    `| ${transport} | ${streams} | ${kb(heapPer)} KB | ${kb(rssPer)} KB | ${(start.rss / 1048576).toFixed(1)} → ${(held.rss / 1048576).toFixed(1)} → ${(after.rss / 1048576).toFixed(1)} MB | ${(start.heapUsed / 1048576).toFixed(1)} → ${(held.heapUsed / 1048576).toFixed(1)} → ${(after.heapUsed / 1048576).toFixed(1)} MB |`,
  )
  json[transport] = { streams, start, held, after, heapPerStream: heapPer, rssPerStream: rssPer }
}
console.log(`\nHeld /header streams over ${CONNECTIONS} connections, after GC, Node ${process.version}\n`)
console.log('| transport | streams | heap per stream | RSS per stream | RSS start → held → after | heap start → held → after |')
console.log('|---|---|---|---|---|---|')
for (const row of rows) console.log(row)
await mkdir(new URL('results/', import.meta.url), { recursive: true })
await writeFile(new URL('results/memory.json', import.meta.url), JSON.stringify({ node: process.version, ...json }, null, 2))
