/**
 * The held-stream flood: one connection opens `count` `/header` streams in one TCP write
 * (a raw frame client, which does not keep to the server's SETTINGS_MAX_CONCURRENT_STREAMS),
 * and this reports what the server did with them and its RSS before and after.
 * `node --expose-gc --import tsx test/helpers/stream-flood.ts [spdy|http2] [count] [maxConcurrentStreams]`
 * (`MAX_HELD_PER_CONNECTION=0`: no cap on held routes, so that only the stream limit bounds them).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { RawH2Client, frames, FRAME, ERROR, SETTING } from './raw-h2.js'
import { startDemo } from './server.js'
import type { CreateServerOptions, Transport } from '../../index.js'
import type { DemoAppOptions } from '../../routes/index.js'

export interface FloodResult {
  responses: number
  refused: number
  otherResets: number
  goaway: boolean
  advertised: number | undefined
  rssBeforeMB: number
  rssAfterMB: number
  heapBeforeMB: number
  heapAfterMB: number
}

function rssMB(): number {
  return Math.round(process.memoryUsage().rss / 1048576)
}

function heapMB(): number {
  return Math.round(process.memoryUsage().heapUsed / 1048576)
}

export async function flood(transport: Transport, count: number, options: CreateServerOptions = {}, demo: Partial<DemoAppOptions> = {}): Promise<FloodResult> {
  const running = await startDemo({ watchManifest: false, ...demo }, { transport, ...options })
  try {
    const requests: Buffer[] = []
    for (let i = 0; i < count; i++) requests.push(frames.request(1 + 2 * i, '/header'))
    globalThis.gc?.()
    const rssBeforeMB = rssMB()
    const heapBeforeMB = heapMB()
    const client = await RawH2Client.connect(running.port)
    // Right behind the preface: before the server's SETTINGS have arrived, let alone been acknowledged.
    client.write(...requests)
    const last = 1 + 2 * (count - 1)
    // Every stream answered (HEADERS) or reset, or the connection gone.
    await client
      .until(
        (f) => {
          const seen = new Set<number>()
          for (const x of f) if (x.type === FRAME.HEADERS || x.type === FRAME.RST_STREAM) seen.add(x.streamId)
          return (
            seen.size >= count ||
            f.some((x) => x.type === FRAME.GOAWAY && x.streamId === 0 && x.errorCode !== ERROR.NO_ERROR && x.payload.readUInt32BE(0) < last)
          )
        },
        20_000,
        'answers',
      )
      .catch(() => false)
    await sleep(200)
    globalThis.gc?.()
    const rssAfterMB = rssMB()
    const advertised = client.frames.find((f) => f.settings !== undefined)?.settings?.get(SETTING.MAX_CONCURRENT_STREAMS)
    const result = {
      responses: client.of(FRAME.HEADERS).length,
      refused: client.of(FRAME.RST_STREAM).filter((f) => f.errorCode === ERROR.REFUSED_STREAM).length,
      otherResets: client.of(FRAME.RST_STREAM).filter((f) => f.errorCode !== ERROR.REFUSED_STREAM).length,
      goaway: client.of(FRAME.GOAWAY).length > 0,
      advertised,
      rssBeforeMB,
      rssAfterMB,
      heapBeforeMB,
      heapAfterMB: heapMB(),
    }
    await client.close()
    return result
  } finally {
    await running.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const transport = (process.argv[2] ?? 'spdy') as Transport
  const count = Number(process.argv[3] ?? 2000)
  const limit = process.argv[4]
  const options = limit === undefined ? {} : ({ maxConcurrentStreams: Number(limit) } as CreateServerOptions)
  const cap = process.env['MAX_HELD_PER_CONNECTION']
  const demo = cap === undefined ? {} : { maxHeldPerConnection: Number(cap) }
  console.log(JSON.stringify({ node: process.version, transport, count, ...options, ...demo, ...(await flood(transport, count, options, demo)) }))
}
