/**
 * Faults around files pushed from `root`: every descriptor a push opens is closed, whether
 * the push is sent, skipped after its file was opened (byte budget, already pushed on the
 * connection), reset by the client, cut by a vanished client, timed out, or cut by a file
 * truncated under it. Counted in /proc/self/fd, on both transports.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import http2 from 'node:http2'
import express from 'express'
import { pushManifest, type PushEvent } from '../index.js'
import { H2Client } from './helpers/h2.js'
import { RawH2Client, frames, FRAME, SETTING } from './helpers/raw-h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { assertHealthy, resourceCounts, settles, SCALE } from './helpers/faults.js'

const BIG = 200 * 1024
const ROUNDS = 5 * SCALE

function openFds(): number {
  return readdirSync('/proc/self/fd').length
}

/** Waits until this process holds no more descriptors than at `baseline`. */
async function noFdLeak(baseline: number, what: string): Promise<void> {
  await settles(() => openFds() <= baseline, `${what}: descriptors back to ${baseline} (now ${openFds()})`)
}

for (const transport of TRANSPORTS)
  describe(`file descriptors of pushes from root on ${transport}`, { timeout: 60_000 }, () => {
    let dir: string
    let running: Running
    const events: PushEvent[] = []
    let fds: number
    let resources: Record<string, number>

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'h2push-fds-'))
      await writeFile(join(dir, 'big.bin'), Buffer.alloc(BIG, 'a'))
      await writeFile(join(dir, 'big2.bin'), Buffer.alloc(BIG, 'b'))
      await writeFile(join(dir, 'big3.bin'), Buffer.alloc(BIG, 'c'))
      const app = express()
      app.use(
        pushManifest({
          // big3.bin passes maxPushBytes once the other two are in: skipped after its file was opened.
          manifest: { '/big': { '/big.bin': { type: 'fetch' }, '/big2.bin': { type: 'fetch' }, '/big3.bin': { type: 'fetch' } } },
          maxPushBytes: 2 * BIG,
          root: dir,
          watch: false,
          cacheDigest: false,
          pushTimeout: 300,
          onEvent: (e) => events.push(e),
        }),
      )
      app.get('/big', (_req, res) => void res.type('html').send('<h1>big</h1>'))
      app.get('/crt', (_req, res) => void res.send('ok'))
      running = await startServer(app, { transport })
      resources = resourceCounts()
      fds = openFds()
    })
    after(async () => {
      await running.close()
      await rm(dir, { recursive: true, force: true })
    })

    test('pushes sent in full, and pushes skipped after their file was opened (budget, already pushed)', async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const client = new H2Client(running.url)
        // Paced by the default windows: two sent, the third skipped for the byte budget after being opened.
        const sent = await client.request('/big')
        assert.deepEqual(sent.pushes.map((p) => [p.path, p.ended, p.body.length]).sort(), [
          ['/big.bin', true, BIG],
          ['/big2.bin', true, BIG],
        ])
        // The same connection again: the diary skips the two (opened, then released); big3.bin now fits.
        const again = await client.request('/big')
        assert.deepEqual(
          again.pushes.map((p) => p.path),
          ['/big3.bin'],
        )
        await client.close()
      }
      assert.ok(events.some((e) => e.type === 'skipped' && e.reason === 'bytes'))
      assert.ok(events.some((e) => e.type === 'skipped' && e.reason === 'cached'))
      await noFdLeak(fds, 'sent and skipped pushes')
      await assertHealthy(running.url, resources, 'sent and skipped pushes')
    })

    test('the client resets each push as it is promised', async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const session = http2.connect(running.url, { rejectUnauthorized: false })
        let promised = 0
        session.on('error', () => {})
        session.on('stream', (stream) => {
          promised++
          stream.on('error', () => {})
          stream.close(http2.constants.NGHTTP2_CANCEL)
        })
        await once(session, 'connect')
        session.setLocalWindowSize(8 * 1024 * 1024)
        const req = session.request({ ':path': '/big' })
        req.resume()
        await once(req, 'close')
        // A fresh connection: what is reset must first have been promised.
        assert.ok(promised > 0, 'no push was promised, so none was reset')
        session.close()
        await once(session, 'close')
      }
      await noFdLeak(fds, 'pushes reset by the client')
      await assertHealthy(running.url, resources, 'pushes reset by the client')
    })

    test('the client resets its request right behind it (pushes refused or cut while planned)', async () => {
      const client = await RawH2Client.connect(running.port)
      const requests: Buffer[] = [frames.windowUpdate(0, 8 * 1024 * 1024)]
      for (let i = 0; i < 20 * ROUNDS; i++) requests.push(frames.request(2 * i + 1, '/big'), frames.rstStream(2 * i + 1))
      const last = 40 * ROUNDS + 1
      client.write(...requests, frames.request(last, '/crt')) // answered after the server read every reset
      await client.until(() => client.finished(last), 5000, 'the request behind the resets')
      await client.close()
      await noFdLeak(fds, 'requests reset right behind their HEADERS')
      await assertHealthy(running.url, resources, 'requests reset right behind their HEADERS')
    })

    for (const fault of ['client gone mid-push', 'push timed out', 'file truncated mid-push'] as const) {
      test(`${fault}: its file is closed`, async () => {
        // Each timed-out round waits for pushTimeout: fewer rounds.
        for (let i = 0; i < (fault === 'push timed out' ? 2 * SCALE : ROUNDS); i++) {
          const file = join(dir, 'big.bin')
          if (fault === 'file truncated mid-push') await writeFile(file, Buffer.alloc(BIG, 'a'))
          const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 1, [SETTING.INITIAL_WINDOW_SIZE]: 1024 } })
          client.write(frames.windowUpdate(0, 8 * 1024 * 1024), frames.request(1, '/big'))
          await client.until((f) => f.some((x) => x.type === FRAME.DATA && x.streamId === 2), 5000, 'the push to start')
          if (fault === 'client gone mid-push') {
            client.destroy()
          } else if (fault === 'push timed out') {
            // No WINDOW_UPDATE: the push stalls until pushTimeout resets it.
            await client.until(() => client.finished(2) && client.finished(4), 5000, 'the stalled pushes to be reset')
            assert.ok(client.on(2).some((f) => f.type === FRAME.RST_STREAM))
          } else {
            await truncate(file, 100 * 1024)
            client.write(frames.windowUpdate(2, 8 * 1024 * 1024), frames.windowUpdate(4, 8 * 1024 * 1024))
            await client.until(() => client.finished(2) && client.finished(4), 5000, 'the pushes to finish')
            assert.ok(
              client.on(2).some((f) => f.type === FRAME.RST_STREAM),
              'the truncated push is reset',
            )
            assert.ok(
              client.on(4).some((f) => f.endStream),
              'the other push is sent',
            )
          }
          await client.close()
        }
        await noFdLeak(fds, fault)
        await assertHealthy(running.url, resources, fault)
      })
    }
  })
