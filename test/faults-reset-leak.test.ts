/**
 * Reset streams are released: a client resets a stream (RST_STREAM CANCEL) after the
 * response HEADERS, while the response body still waits on flow control (a zero or
 * small window, a body bigger than it). The server lets go of the request, response,
 * per-stream socket and stream, on a closed connection and on a live one, and never
 * sends DATA on a stream the client reset.
 */
import { test, describe, before, after, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import v8 from 'node:v8'
import vm from 'node:vm'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import { createDemoApp } from '../routes/index.js'
import { h2get } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { testCertificate } from './helpers/tls.js'
import { RawH2Client, frame, frames, FRAME, SETTING } from './helpers/raw-h2.js'
import { assertHealthy, resourceCounts, SCALE, settles } from './helpers/faults.js'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

/** Heap used after full garbage collections (timers and immediates given a turn between them). */
async function afterGc(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(20)
  }
  const { heapUsed, rss } = process.memoryUsage()
  return { heap: heapUsed, rss }
}

const mb = (bytes: number): string => (bytes / (1024 * 1024)).toFixed(1)

/** Asserts the heap is back within 2 MB; reports heap and RSS before → after. */
function assertHeapBack(t: TestContext, before: { heap: number; rss: number }, after: { heap: number; rss: number }, what: string): void {
  t.diagnostic(`${what}: heap ${mb(before.heap)} → ${mb(after.heap)} MB, rss ${mb(before.rss)} → ${mb(after.rss)} MB`)
  assert.ok(after.heap - before.heap < 2 * MB, `${what}: heap after GC grew by ${mb(after.heap - before.heap)} MB (${mb(before.heap)} → ${mb(after.heap)} MB)`)
}

const BODY = 200_000
/**
 * The body for the live-connection test: node:http2 keeps counting the bodies of reset
 * streams against `maxSessionMemory` (10 MB) while their connection lives, and refuses
 * new streams (ENHANCE_YOUR_CALM) past it; 1000 × 8 KB stays below.
 */
const LIVE_BODY = 8_000
/** Streams requested at once (node:http2: 25 bodies of 200 KB, well below `maxSessionMemory`). */
const BATCH = 25
const MB = 1024 * 1024

for (const transport of TRANSPORTS) {
  describe(`reset streams are released (${transport})`, () => {
    let running: Running
    let baseline: Record<string, number>
    let requests = 0
    let closed = 0

    before(async () => {
      const { cert } = await testCertificate()
      const app = express()
      app.get('/big', (_req, res) => {
        requests++
        res.on('close', () => closed++)
        res.send(Buffer.alloc(BODY, 1))
      })
      app.get('/live', (_req, res) => {
        requests++
        res.on('close', () => closed++)
        res.send(Buffer.alloc(LIVE_BODY, 1))
      })
      app.get('/small', (_req, res) => {
        res.send('ok')
      })
      app.use(createDemoApp({ certificate: cert, logRequests: false, watchManifest: false }))
      running = await startServer(app, { transport })
      await h2get(running.url, '/crt') // warm up, the reset paths too
      const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 0, [SETTING.INITIAL_WINDOW_SIZE]: 1000 } })
      await resetAfterHeaders(client, '/big', 1, 5)
      await resetAfterHeaders(client, '/live', 11, 5)
      await pingPong(client)
      await client.close()
      await sleep(50)
      baseline = resourceCounts()
    })

    after(async () => {
      await running.close()
    })

    /** Requests `count` bodies at once, waits for every response's HEADERS (and `until`), then resets them all. */
    async function resetAfterHeaders(client: RawH2Client, path: string, firstId: number, count: number, until: () => boolean = () => true): Promise<number[]> {
      const ids = Array.from({ length: count }, (_, i) => firstId + 2 * i)
      client.write(...ids.map((id) => frames.request(id, path)))
      const wanted = new Set(ids)
      await client.until((all) => all.filter((f) => f.type === FRAME.HEADERS && wanted.has(f.streamId)).length === count && until(), 10_000, 'response HEADERS')
      client.write(...ids.map((id) => frames.rstStream(id)))
      return ids
    }

    /** A PING round trip: the server has read every frame written before it. */
    async function pingPong(client: RawH2Client): Promise<void> {
      const acks = (): number => client.of(FRAME.PING).filter((f) => (f.flags & 1) === 1).length
      const before = acks()
      client.write(frame(FRAME.PING, 0, 0, Buffer.alloc(8)))
      await client.until(() => acks() > before, 10_000, 'the PING ACK')
    }

    async function allClosed(): Promise<boolean> {
      return settles(() => closed === requests, `'close' on every reset response (${closed} of ${requests})`).then(
        () => true,
        () => false,
      )
    }

    test(`${1000 * SCALE} resets with a zero window, ${BATCH} a connection: the heap goes back to where it was`, async (t) => {
      const memBefore = await afterGc()
      for (let c = 0; c < (1000 * SCALE) / BATCH; c++) {
        const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 0, [SETTING.INITIAL_WINDOW_SIZE]: 0 } })
        await resetAfterHeaders(client, '/big', 1, BATCH)
        await pingPong(client)
        await client.close()
      }
      const released = await allClosed()
      assertHeapBack(t, memBefore, await afterGc(), 'connections closed')
      assert.ok(released, `every reset response emits 'close' (${closed} of ${requests})`)
      await assertHealthy(running.url, baseline, 'zero-window resets')
    })

    // nghttp2 (node:http2) ends a connection that resets more than 1000 streams in a burst with
    // GOAWAY(INTERNAL_ERROR): its rapid-reset limit (CVE-2023-44487). One connection stays under it there.
    const resetsOnOneConnection = transport === 'http2' ? Math.min(1000 * SCALE, 1000) : 1000 * SCALE

    test(`${resetsOnOneConnection} resets on one live connection whose window is spent: released at once, no DATA sent on them later`, async (t) => {
      const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 0, [SETTING.INITIAL_WINDOW_SIZE]: 1000 } })
      const memBefore = await afterGc()
      const reset = new Set<number>()
      // Each stream sends its 1,000-byte window until the connection's 65,535 bytes are
      // spent (the 66th stream); from then on every body waits on the connection window.
      let nextId = 1
      for (let b = 0; b < resetsOnOneConnection / BATCH; b++) {
        const sent = Math.min(65_535, (b + 1) * BATCH * 1000)
        const ids = await resetAfterHeaders(client, '/live', nextId, BATCH, () => client.dataBytes() === sent)
        for (const id of ids) reset.add(id)
        nextId += 2 * BATCH
      }
      await pingPong(client)
      const released = await allClosed()
      client.frames.splice(0) // the client's own frame log: only the server's memory counts
      const memAfter = await afterGc()

      // The connection window opens: a new request is answered, and no reset stream sends DATA.
      const last = nextId
      client.write(frames.windowUpdate(0, 10 * MB), frames.request(last, '/small'))
      await client.until(() => client.finished(last), 10_000, 'the last response')
      const late = client.of(FRAME.DATA).filter((f) => reset.has(f.streamId))
      await client.close()

      assertHeapBack(t, memBefore, memAfter, 'connection open')
      assert.deepEqual(late.map((f) => f.streamId).slice(0, 10), [], `DATA sent on ${new Set(late.map((f) => f.streamId)).size} streams the client had reset`)
      assert.ok(released, `every reset response emits 'close' (${closed} of ${requests})`)
      await assertHealthy(running.url, baseline, 'live-connection resets')
    })
  })
}
