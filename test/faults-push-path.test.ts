/**
 * The push path under hostile and concurrent clients, with raw frames: a request reset
 * in the same TCP write, reset at every point around its PUSH_PROMISEs, sockets closed,
 * GOAWAY, zero windows, and many requests for one page on one connection. The process
 * stays up with no unhandled rejection and releases what it held.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { once } from 'node:events'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import fc from 'fast-check'
import { pushManifest, type PushEvent } from '../index.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { h2get } from './helpers/h2.js'
import { assertHealthy, problems, resourceCounts, SCALE, settles } from './helpers/faults.js'
import { ERROR, FRAME, frames, RawH2Client, SETTING, type Frame } from './helpers/raw-h2.js'

const ENTRIES = { '/a.css': { type: 'style' }, '/b.js': { type: 'script' }, '/c.png': { type: 'image' } } as const

/** A page route with three entries, and the same entries on routes that answer 401, 500 and 404. */
async function hostileSite(onEvent: (event: PushEvent) => void, options: Record<string, unknown> = {}) {
  const site = await mkdtemp(join(tmpdir(), 'h2push-hostile-'))
  await writeFile(join(site, 'a.css'), 'a{}'.repeat(700))
  await writeFile(join(site, 'b.js'), Buffer.alloc(100 * 1024, 0x61)) // more than a 64 KB window
  await writeFile(join(site, 'c.png'), Buffer.alloc(20 * 1024, 1))
  await writeFile(join(site, 'big.bin'), Buffer.alloc(266 * 1024, 2))
  const app = express()
  app.set('env', 'test') // the 500 route's error is expected: not logged
  app.use(
    pushManifest({
      manifest: { '/page': ENTRIES, '/deny': ENTRIES, '/boom': ENTRIES, '/nowhere': ENTRIES, '/big': { '/big.bin': { type: 'fetch' } } },
      root: site,
      watch: false,
      onEvent,
      ...options,
    }),
  )
  app.get('/page', (_req, res) => {
    res.send('<!doctype html><title>page</title>')
  })
  app.get('/big', (_req, res) => {
    res.send('big')
  })
  app.get('/deny', (_req, res) => {
    res.status(401).send('who are you')
  })
  app.get('/boom', () => {
    throw new Error('the route failed')
  })
  app.use(express.static(site))
  return app
}

function promisesOn(client: RawH2Client, parent: number): Frame[] {
  return client.frames.filter((f) => f.type === FRAME.PUSH_PROMISE && f.streamId === parent)
}

/** Every PUSH_PROMISE of a request precedes its HEADERS: once the HEADERS (or a reset) arrived, no more come. */
function parentAnswered(client: RawH2Client, parent: number): boolean {
  return client.frames.some((f) => f.streamId === parent && (f.type === FRAME.HEADERS || f.type === FRAME.RST_STREAM)) || client.closed
}

for (const transport of TRANSPORTS) {
  describe(`hostile clients on the push path (${transport})`, () => {
    let running: Running
    let baseline: Record<string, number>
    const events: PushEvent[] = []

    before(async () => {
      running = await startServer(await hostileSite((e) => events.push(e)), { transport })
      const warm = await RawH2Client.connect(running.port)
      warm.write(frames.request(1, '/page'))
      await warm.until(() => parentAnswered(warm, 1))
      await warm.close()
      await settles(() => (resourceCounts()['TLSSocketWrap'] ?? 0) === 0, 'the warm-up connection to close')
      baseline = resourceCounts()
    })

    after(async () => {
      await running.close()
    })

    test(`one packet: GET for a 3-entry route and RST_STREAM(CANCEL) in the same TCP write, or GET then TCP close (${50 * SCALE} rounds each)`, async () => {
      for (let i = 0; i < 50 * SCALE; i++) {
        const reset = await RawH2Client.connect(running.port)
        reset.write(frames.request(1, '/page'), frames.rstStream(1, ERROR.CANCEL))
        const dropped = await RawH2Client.connect(running.port)
        dropped.write(frames.request(1, '/page'))
        dropped.destroy()
        // Let the server get to its awaits before the next round piles on.
        await reset.until(() => parentAnswered(reset, 1) || reset.frames.some((f) => f.type === FRAME.SETTINGS), 2000).catch(() => false)
        await reset.close()
      }
      await assertHealthy(running.url, baseline, 'request reset in its own packet', '/a.css')
    })

    test(`randomized: requests, resets before, between and after PUSH_PROMISEs, socket closes, GOAWAY and zero windows (${300 * SCALE} rounds)`, async (t) => {
      const request = fc.record({
        path: fc.constantFrom('/page', '/page?v=2', '/deny', '/boom', '/nowhere', '/a.css'),
        conditional: fc.boolean(),
        action: fc.oneof(
          fc.record({ kind: fc.constant('none' as const) }),
          // Reset the request after `after` of its PUSH_PROMISEs (0: in the request's own TCP write).
          fc.record({ kind: fc.constant('reset' as const), after: fc.integer({ min: 0, max: 3 }) }),
          fc.record({ kind: fc.constant('reset-push' as const), index: fc.integer({ min: 0, max: 2 }) }),
        ),
      })
      const round = fc.record({
        window: fc.constantFrom(0, 1024, 65_535),
        maxStreams: fc.constantFrom(1, 2, 100),
        requests: fc.array(request, { minLength: 1, maxLength: 4 }),
        end: fc.constantFrom('close' as const, 'goaway' as const, 'goaway-close' as const, 'wait' as const, 'at-once' as const),
      })
      await fc.assert(
        fc.asyncProperty(round, async ({ window, maxStreams, requests, end }) => {
          const client = await RawH2Client.connect(running.port, {
            settings: { [SETTING.ENABLE_PUSH]: 1, [SETTING.INITIAL_WINDOW_SIZE]: window, [SETTING.MAX_CONCURRENT_STREAMS]: maxStreams },
          })
          const ids = requests.map((_, i) => 1 + 2 * i)
          const headers = (conditional: boolean): Array<[string, string]> => (conditional ? [['if-none-match', '"nope"']] : [])
          for (const [i, r] of requests.entries()) {
            const id = ids[i]!
            if (r.action.kind === 'reset' && r.action.after === 0)
              client.write(frames.request(id, r.path, { headers: headers(r.conditional) }), frames.rstStream(id))
            else client.write(frames.request(id, r.path, { headers: headers(r.conditional) }))
          }
          if (end !== 'at-once') {
            for (const [i, r] of requests.entries()) {
              const id = ids[i]!
              if (r.action.kind === 'reset' && r.action.after > 0) {
                const after = r.action.after
                await client.until(() => promisesOn(client, id).length >= after || parentAnswered(client, id), 2000)
                client.write(frames.rstStream(id))
              } else if (r.action.kind === 'reset-push') {
                const index = r.action.index
                await client.until(() => promisesOn(client, id).length > index || parentAnswered(client, id), 2000)
                const promised = promisesOn(client, id)[index]
                if (promised) client.write(frames.rstStream(promised.promisedId!))
              }
            }
          }
          if (end === 'goaway' || end === 'goaway-close') client.write(frames.goaway(0))
          if (end === 'wait' || end === 'goaway') await client.until(() => ids.every((id) => client.finished(id)), 100).catch(() => false)
          await client.close()
          assert.deepEqual(problems, [])
        }),
        {
          numRuns: 300 * SCALE,
          endOnFailure: true,
          // Replays a failing run: FC_SEED and FC_PATH as fast-check printed them.
          ...(process.env['FC_SEED'] ? { seed: Number(process.env['FC_SEED']), path: process.env['FC_PATH'] ?? '' } : {}),
        },
      )
      if (transport === 'spdy') {
        await assertHealthy(running.url, baseline, 'randomized hostile rounds', '/a.css')
      } else {
        // node:http2 keeps a few of these connections open after the client closed TCP: a
        // response ended in JavaScript whose END_STREAM nghttp2 never sent (its client window
        // was 0 or spent), and Node no longer reads the socket, so the FIN goes unseen (a
        // Node limitation, see the README's "Faults and load"). What must hold: the process
        // is up, nothing was rejected unhandled, and the server serves.
        const res = await h2get(running.url, '/a.css')
        assert.equal(res.status, 200)
        assert.deepEqual(problems, [])
        t.diagnostic(`sockets still open after the rounds: ${(resourceCounts()['TCPSocketWrap'] ?? 0) - (baseline['TCPSocketWrap'] ?? 0)}`)
      }
    })

    test('20 parallel GETs on one connection for a page that lists a 266 KB file: it is pushed once', async () => {
      events.length = 0
      const session = http2.connect(running.url, { rejectUnauthorized: false })
      session.on('error', () => {})
      await once(session, 'connect')
      session.setLocalWindowSize(16 * 1024 * 1024) // room for every push, were they all sent
      const pushed: string[] = []
      session.on('stream', (stream, headers) => {
        pushed.push(String(headers[':path']))
        stream.on('error', () => {})
        stream.resume()
      })
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const req = session.request({ ':path': '/big' })
          req.on('error', () => {})
          req.resume()
          await once(req, 'close')
        }),
      )
      session.close()
      await once(session, 'close')
      assert.deepEqual(pushed, ['/big.bin'])
      const skipped = events.filter((e) => e.type === 'skipped' && e.url === '/big.bin')
      assert.equal(skipped.length, 19)
      assert.ok(
        skipped.every((e) => e.type === 'skipped' && e.reason === 'cached'),
        JSON.stringify(skipped),
      )
    })
  })

  describe(`the per-connection push budget (${transport})`, () => {
    // Zero window: nothing pushed can finish, so every push stays in flight. Two requests for
    // the page: the second finds the first's pushes in flight.
    const cases = [
      {
        options: { maxPushesPerConnection: 3, maxPushBytesPerConnection: 20 * 1024 },
        // a.css (2.1 KB) fits; b.js (100 KB) does not; c.png (20 KB) would pass the 20 KB in flight, for both requests.
        promised: 1,
        skipped: ['/a.css cached', '/b.js bytes', '/b.js bytes', '/c.png bytes', '/c.png bytes'],
      },
      {
        options: { maxPushesPerConnection: 1 },
        promised: 1,
        skipped: ['/a.css cached', '/b.js limit', '/b.js limit', '/c.png limit', '/c.png limit'],
      },
    ]
    for (const { options, promised, skipped } of cases) {
      test(`${JSON.stringify(options)}: ${promised} pushes in flight across two requests on one connection, none after they are released`, async () => {
        const events: PushEvent[] = []
        const running = await startServer(await hostileSite((e) => events.push(e), { ...options, cacheDigest: false }), { transport })
        try {
          const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 1, [SETTING.INITIAL_WINDOW_SIZE]: 0 } })
          client.write(frames.request(1, '/page'))
          await client.until(() => parentAnswered(client, 1))
          client.write(frames.request(3, '/page?v=2'))
          await client.until(() => parentAnswered(client, 3))
          assert.equal(client.of(FRAME.PUSH_PROMISE).length, promised, client.frames.map((f) => f.name).join(' '))
          const reasons = events.flatMap((e) => (e.type === 'skipped' ? [`${e.url} ${e.reason}`] : [])).sort()
          assert.deepEqual(reasons, skipped)
          if (options.maxPushBytesPerConnection) {
            const details = events.flatMap((e) => (e.type === 'skipped' && e.url === '/c.png' ? [e.detail] : []))
            assert.ok(
              details.every((d) => d?.includes('maxPushBytesPerConnection')),
              details.join('\n'),
            )
          }
          await client.close()
          // Released with the connection: a new one gets them pushed again.
          const again = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 1, [SETTING.INITIAL_WINDOW_SIZE]: 0 } })
          again.write(frames.request(1, '/page'))
          await again.until(() => parentAnswered(again, 1))
          assert.equal(again.of(FRAME.PUSH_PROMISE).length, promised)
          await again.close()
        } finally {
          await running.close()
        }
      })
    }
  })
}
