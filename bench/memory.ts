/**
 * Memory per held stream: 5 000 held-open `/header` streams over 50 connections; the
 * server's RSS and heap after GC at rest, with the streams held, and after every
 * client left. Target: at most 8 KB per held stream, and back near the start after.
 * Each transport is measured in three layers (bench/memory-server.ts): the transport
 * alone, Express with the route alone, the same behind helmet, and the demo (helmet, pushManifest, routes), so
 * the table shows what each layer keeps per stream.
 *   npm run bench:memory   (STREAMS=5000 CONNECTIONS=50 LAYERS=bare,express,helmet,demo)
 */
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import http2 from 'node:http2'
import { fileURLToPath } from 'node:url'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RESULTS_DIR } from './harness.js'

const STREAMS = Number(process.env['STREAMS'] ?? 5000)
const CONNECTIONS = Number(process.env['CONNECTIONS'] ?? 50)

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
const LAYERS = (process.env['LAYERS'] ?? 'bare,express,helmet,demo').split(',')
for (const transport of ['spdy', 'http2'])
  for (const layers of LAYERS) {
    const child = fork(fileURLToPath(new URL('./memory-server.js', import.meta.url)), [], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, TRANSPORT: transport, LAYERS: layers, NODE_ENV: 'production' },
    })
    const [{ port }] = (await once(child, 'message')) as [{ port: number }]
    const url = `https://127.0.0.1:${port}`
    // Warm up the paths once, then the baseline.
    const warm = http2.connect(url, { rejectUnauthorized: false })
    await once(warm.request({ ':path': '/header' }), 'response')
    warm.destroy()
    await new Promise((r) => setTimeout(r, 200))
    const start = await measure(child)
    const perConnection = Math.ceil(STREAMS / CONNECTIONS)
    /** Holds STREAMS streams, measures, lets every client leave, measures again. */
    const cycle = async (): Promise<[Memory, Memory]> => {
      const sessions = Array.from({ length: CONNECTIONS }, () => {
        const s = http2.connect(url, { rejectUnauthorized: false, settings: { enablePush: false } })
        s.on('error', () => {})
        return s
      })
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
      return [held, await measure(child)]
    }
    const [held, after] = await cycle()
    // A second round: memory the first one left to the allocator is reused, not added to.
    const [, again] = await cycle()
    child.send('stop')
    await once(child, 'exit')
    const streams = perConnection * CONNECTIONS
    const heapPer = (held.heapUsed - start.heapUsed) / streams
    const rssPer = (held.rss - start.rss) / streams
    rows.push(
      `| ${transport} | ${layers} | ${streams} | ${kb(heapPer)} KB | ${kb(rssPer)} KB | ${(start.rss / 1048576).toFixed(1)} → ${(held.rss / 1048576).toFixed(1)} → ${(after.rss / 1048576).toFixed(1)} → ${(again.rss / 1048576).toFixed(1)} MB | ${(start.heapUsed / 1048576).toFixed(1)} → ${(held.heapUsed / 1048576).toFixed(1)} → ${(after.heapUsed / 1048576).toFixed(1)} → ${(again.heapUsed / 1048576).toFixed(1)} MB |`,
    )
    json[`${transport}/${layers}`] = { streams, start, held, after, afterSecondRound: again, heapPerStream: heapPer, rssPerStream: rssPer }
  }
console.log(`\nHeld /header streams over ${CONNECTIONS} connections, after GC, Node ${process.version}\n`)
console.log(
  '| transport | layers | streams | heap per stream | RSS per stream | RSS start → held → left → left after a 2nd round | heap start → held → left → left after a 2nd round |',
)
console.log('|---|---|---|---|---|---|---|')
for (const row of rows) console.log(row)
await mkdir(RESULTS_DIR, { recursive: true })
await writeFile(join(RESULTS_DIR, 'memory.json'), JSON.stringify({ node: process.version, ...json }, null, 2))
