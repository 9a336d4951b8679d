/**
 * Time to the first PUSH_PROMISE on a new connection: a cold TLS connection sends GET /p
 * (3 assets) and the time from that request's write to the first PUSH_PROMISE received
 * is taken, for pushManifest (files under root) and for a handwritten handler pushing the
 * same assets with the transport's own API (spdy's res.push, node:http2's
 * res.createPushResponse), on each transport. Each round is the median of CONNECTIONS
 * connections, one after another (no load: a latency, not a rate); the table prints the
 * median of the rounds (µs) and the ratio to the handwritten push.
 *   npm run bench:first-push   (ROUNDS=5 CONNECTIONS=100)
 */
import { compareWith, median, type LoadResult } from './harness.js'
import { FRAME, frames, RawH2Client } from '../test/helpers/raw-h2.js'

const CONNECTIONS = Number(process.env['CONNECTIONS'] ?? 100)

async function firstPushMicros(port: number): Promise<number | undefined> {
  const client = await RawH2Client.connect(port)
  try {
    await client.until((f) => f.some((x) => x.type === FRAME.SETTINGS), 2000)
    const start = performance.now()
    client.write(frames.request(1, '/p'))
    let at: number | undefined
    await client.until((f) => {
      if (at === undefined && f.some((x) => x.type === FRAME.PUSH_PROMISE)) at = performance.now()
      return at !== undefined || f.some((x) => x.streamId === 1 && x.type === FRAME.HEADERS)
    }, 5000)
    return at === undefined ? undefined : (at - start) * 1000
  } finally {
    await client.close()
  }
}

async function coldConnections(port: number): Promise<LoadResult> {
  const times: number[] = []
  let failed = 0
  for (let i = 0; i < CONNECTIONS; i++) {
    const ms = await firstPushMicros(port).catch(() => undefined)
    if (ms === undefined) failed++
    else times.push(ms)
  }
  return { rate: median(times), count: times.length, failed, errored: 0 }
}

for (const transport of ['spdy', 'http2'] as const) {
  process.env['TRANSPORT'] = transport
  await compareWith(
    `first-push-${transport}`,
    `Time to the first PUSH_PROMISE on a new connection (${transport}): GET /p pushing 3 × 1024 B, median of ${CONNECTIONS} cold connections per round (pushManifest vs the transport's own push API)`,
    'µs',
    ['push-handwritten', 'push-manifest'],
    coldConnections,
    undefined,
    'connection',
  )
}
