/**
 * pushManifest() over real HTTP/2 (spdy): what is pushed, in which order, with which
 * headers and bodies; what is hinted instead, and why; limits, resets, hot reload.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import http2 from 'node:http2'
import { once } from 'node:events'
import { PassThrough } from 'node:stream'
import express from 'express'
import { getPusher, pushManifest, type PushEvent, type PushManifest, type PushManifestOptions } from '../index.js'
import { security } from '../middleware/security.js'
import { H2Client, h2get } from './helpers/h2.js'
import { startPushPage, startServer, startWindowFillingPage, TRANSPORTS, type Running } from './helpers/server.js'
import { settles } from './helpers/wait.js'
import { RawH2Client, frames, FRAME, SETTING } from './helpers/raw-h2.js'
import { nghttp, requestStreamId, mostOpenPushedStreams, END_STREAM } from './helpers/nghttp.js'

const SITE = fileURLToPath(new URL('./fixtures/site/', import.meta.url))

const MANIFEST: PushManifest = {
  '/page': { '/css/app.css': { type: 'style' }, '/js/app.js': { type: 'script' }, '/api/data': { type: 'fetch' } },
  '/nopush': { '/css/app.css': { type: 'style', nopush: true } },
  '/mixed': { '/private': { type: 'fetch' }, '/missing.css': { type: 'style' }, '/css/app.css': { type: 'style' } },
  '/self': { '/self': { type: 'document' }, '/js/app.js': { type: 'script' } },
  '/api/data': { '/css/app.css': { type: 'style' } },
}

function testApp(options: Partial<PushManifestOptions> = {}) {
  const events: PushEvent[] = []
  const app = express()
  app.use(security())
  const middleware = pushManifest({ manifest: MANIFEST, root: SITE, watch: false, onEvent: (e) => events.push(e), ...options })
  app.use(middleware)
  app.use(express.static(SITE))
  app.get('/api/data', (_req, res) => {
    res.set('cache-control', 'public, max-age=60').json({ data: [1, 2, 3] })
  })
  app.get('/private', (_req, res) => {
    res.set('cache-control', 'no-store').json({ secret: true })
  })
  for (const path of ['/page', '/nopush', '/mixed', '/self']) {
    app.get(path, (_req, res) => {
      res.type('html').send(`<h1>${path}</h1>`)
    })
  }
  app.post('/page', (_req, res) => {
    res.json({ posted: true })
  })
  return { app, middleware, events }
}

for (const transport of TRANSPORTS)
  describe(`pushManifest on ${transport}`, () => {
    let running: Running
    let events: PushEvent[]
    let middleware: ReturnType<typeof pushManifest>

    before(async () => {
      const made = testApp()
      events = made.events
      middleware = made.middleware
      running = await startServer(made.app, { transport })
    })
    after(() => running.close())

    test('every PUSH_PROMISE is on the wire before the response HEADERS (nghttp -nv)', async () => {
      const { frames } = await nghttp(`${running.url}/page`)
      const id = requestStreamId(frames)
      const promises = frames.flatMap((f, i) => (f.dir === 'recv' && f.type === 'PUSH_PROMISE' && f.streamId === id ? [i] : []))
      const headers = frames.findIndex((f) => f.dir === 'recv' && f.type === 'HEADERS' && f.streamId === id)
      assert.equal(promises.length, 3)
      assert.ok(
        promises.every((i) => i < headers),
        `HEADERS at #${headers}, PUSH_PROMISEs at ${promises.join(', ')}`,
      )
      assert.deepEqual(
        promises.map((i) => frames[i]!.promisedId),
        [2, 4, 6],
      )
    })

    test("the client's SETTINGS_MAX_CONCURRENT_STREAMS holds for pushed streams (nghttp -m 3 --max-concurrent-streams=N)", async () => {
      for (const limit of [1, 2]) {
        const { frames, stderr } = await nghttp(`${running.url}/page`, ['-m', '3', `--max-concurrent-streams=${limit}`])
        assert.doesNotMatch(stderr, /not processed/, `limit ${limit}: ${stderr}`)
        assert.equal(frames.filter((f) => f.type === 'GOAWAY').length, 1, 'only the client’s closing GOAWAY')
        const promised = frames.filter((f) => f.dir === 'recv' && f.type === 'PUSH_PROMISE').map((f) => f.promisedId!)
        // The first request pushes all three; the connection's diary may skip them for the others.
        assert.ok(promised.length >= 3, `${promised.length} pushes`)
        const ended = new Set(
          frames
            .filter((f) => f.dir === 'recv' && (f.type === 'DATA' || f.type === 'HEADERS') && f.streamId % 2 === 0 && (f.flags & END_STREAM) !== 0)
            .map((f) => f.streamId),
        )
        assert.deepEqual(
          [...ended].sort((a, b) => a - b),
          [...promised].sort((a, b) => a - b),
          'every push ends with END_STREAM',
        )
        const most = mostOpenPushedStreams(frames)
        assert.ok(most >= 1 && most <= limit, `${most} pushed streams open at once, the client allows ${limit}`)
      }
    })

    test('pushed bodies and headers equal what a GET returns, static and dispatched, with helmet headers', async () => {
      const res = await h2get(running.url, '/page', { headers: { 'user-agent': 'agent/1' } })
      assert.equal(res.status, 200)
      assert.equal(res.headers['link'], undefined, 'everything was pushed: no Link needed')
      assert.match(String(res.headers['date']), / GMT$/)
      assert.deepEqual(
        res.pushes.map((p) => p.path),
        ['/css/app.css', '/js/app.js', '/api/data'],
      )
      for (const push of res.pushes) {
        const get = await h2get(running.url, push.path)
        assert.equal(push.headers[':status'], 200)
        assert.ok(push.ended, `${push.path} not ended`)
        assert.equal(push.body.toString(), get.body.toString(), `${push.path} body`)
        assert.equal(push.headers['content-type'], get.headers['content-type'], `${push.path} content-type`)
        assert.equal(push.headers['content-length'], String(get.body.length), `${push.path} content-length`)
        assert.equal(push.headers['etag'], get.headers['etag'], `${push.path} etag`)
        assert.equal(push.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', `${push.path} helmet`)
        assert.ok(push.headers['content-security-policy'])
        // RFC 9110 §6.6.1: Date on every response, pushed ones too.
        assert.match(String(push.headers['date']), / GMT$/, `${push.path} date`)
        assert.equal(push.requestHeaders['user-agent'], 'agent/1')
        assert.equal(push.requestHeaders[':authority'], `127.0.0.1:${running.port}`)
      }
      const css = res.pushes[0]!
      assert.match(String(css.headers['content-type']), /^text\/css/)
      assert.ok(css.headers['last-modified'])
      assert.equal(css.headers['cache-control'], 'public, max-age=0')
      assert.equal(res.pushes[2]!.headers['cache-control'], 'public, max-age=60')
      // A dispatched push leaves the app intact for real requests.
      assert.deepEqual(JSON.parse((await h2get(running.url, '/api/data')).body.toString()), { data: [1, 2, 3] })
      await settles(
        () => events.some((e) => e.type === 'pushed' && e.url === '/api/data' && e.bytes === Buffer.byteLength(JSON.stringify({ data: [1, 2, 3] }))),
        'the dispatched push reported',
      )
    })

    test('a dispatched request never pushes in turn', async () => {
      events.length = 0
      await h2get(running.url, '/page')
      // Once the page's three pushes are reported, the dispatches they made are done too.
      await settles(() => events.filter((e) => e.type === 'pushed' && e.parent === '/page').length === 3, "the page's pushes reported")
      assert.deepEqual(
        events.filter((e) => 'parent' in e && e.parent === '/api/data'),
        [],
      )
    })

    test('a client that refuses push gets Link headers and no push attempt (node:http2 enablePush: false)', async () => {
      events.length = 0
      const res = await h2get(running.url, '/page', { enablePush: false })
      assert.equal(res.pushes.length, 0)
      assert.deepEqual(String(res.headers['link']).split(', '), [
        '</css/app.css>; rel=preload; as=style',
        '</js/app.js>; rel=preload; as=script',
        '</api/data>; rel=preload; as=fetch',
      ])
      assert.deepEqual(
        events.map((e) => e.type === 'skipped' && e.reason),
        ['push-unsupported', 'push-unsupported', 'push-unsupported'],
      )
    })

    test('curl (which refuses push) gets a 103 and the Link header', async () => {
      const { stdout } = await promisify(execFile)('curl', ['-sk', '--http2', '-D', '-', '-o', '/dev/null', `${running.url}/page`])
      const [early, final] = stdout.split(/\r?\n\r?\n/)
      assert.match(early!, /^HTTP\/2 103/)
      assert.match(final!, /^HTTP\/2 200/)
      assert.match(
        stdout,
        /^link: <\/css\/app\.css>; rel=preload; as=style, <\/js\/app\.js>; rel=preload; as=script, <\/api\/data>; rel=preload; as=fetch\r?$/m,
      )
    })

    test('HEAD: Link only, no push; POST: neither', async () => {
      const head = await h2get(running.url, '/page', { headers: { ':method': 'HEAD' } })
      assert.equal(head.pushes.length, 0)
      assert.match(String(head.headers['link']), /<\/css\/app\.css>/)
      const client = new H2Client(running.url)
      try {
        const post = client.open('/page', { ':method': 'POST' })
        post.stream.end('{}')
        const headers = await post.response
        await post.closed
        assert.equal(headers[':status'], 200)
        assert.equal(headers['link'], undefined)
        assert.equal(client.pushes.length, 0)
      } finally {
        await client.close()
      }
    })

    test('nopush entries are preloaded with the nopush attribute, never pushed', async () => {
      const res = await h2get(running.url, '/nopush')
      assert.equal(res.pushes.length, 0)
      assert.equal(res.headers['link'], '</css/app.css>; rel=preload; as=style; nopush')
    })

    test('only cacheable 200s are pushed: no-store is hinted, a 404 is dropped, the rest pushed', async () => {
      events.length = 0
      const res = await h2get(running.url, '/mixed')
      assert.deepEqual(
        res.pushes.map((p) => p.path),
        ['/css/app.css'],
      )
      assert.equal(res.headers['link'], '</private>; rel=preload; as=fetch')
      const skipped = events.filter((e) => e.type === 'skipped')
      assert.deepEqual(
        skipped.map((e) => e.type === 'skipped' && [e.url, e.reason]),
        [
          ['/missing.css', 'not-found'],
          ['/private', 'not-cacheable'],
        ],
      )
    })

    test("the request's own URL is never pushed", async () => {
      const res = await h2get(running.url, '/self')
      assert.deepEqual(
        res.pushes.map((p) => p.path),
        ['/js/app.js'],
      )
    })

    test('a client RST_STREAM of a pushed stream cancels that push only', async () => {
      events.length = 0
      const session = http2.connect(running.url, { rejectUnauthorized: false })
      session.on('stream', (pushed) => {
        pushed.on('error', () => {})
        pushed.close(http2.constants.NGHTTP2_CANCEL)
      })
      const req = session.request({ ':path': '/page' })
      req.resume()
      await once(req, 'end')
      await settles(() => events.filter((e) => e.type === 'pushed' || e.type === 'cancelled').length === 3, 'three pushes reported')
      session.close()
      assert.equal((await h2get(running.url, '/page')).pushes.length, 3)
    })

    test('stats add the events up', async () => {
      // Its own traffic, so that it holds when run alone: two pages pushed, one to a client
      // that takes no push, and a route with an asset that may not be pushed. Earlier tests
      // clear `events`: what this one counts is what its own traffic adds to both.
      const before = structuredClone(middleware.stats)
      const from = events.length
      await h2get(running.url, '/page')
      await h2get(running.url, '/page')
      await h2get(running.url, '/page', { enablePush: false })
      await h2get(running.url, '/mixed')
      const mine = () => events.slice(from)
      const pushed = () => mine().flatMap((e) => (e.type === 'pushed' ? [e] : []))
      await settles(() => middleware.stats.pushed - before.pushed === pushed().length && pushed().length >= 6, 'every push reported')
      const stats = middleware.stats
      assert.equal(stats.pushed - before.pushed, pushed().length)
      assert.equal(
        stats.bytes - before.bytes,
        pushed().reduce((sum, e) => sum + e.bytes, 0),
      )
      assert.equal(stats.cancelled - before.cancelled, mine().filter((e) => e.type === 'cancelled').length)
      for (const reason of Object.keys(stats.skipped) as Array<keyof typeof stats.skipped>) {
        const counted = mine().filter((e) => e.type === 'skipped' && e.reason === reason).length
        assert.equal(stats.skipped[reason] - before.skipped[reason], counted, `skipped for ${reason}`)
      }
      assert.ok(stats.pushed >= 6)
      assert.ok(stats.bytes > 0)
      assert.ok(stats.skipped['push-unsupported'] >= 3)
      assert.ok(stats.skipped['not-cacheable'] >= 1)
    })
  })

for (const transport of TRANSPORTS)
  describe(`limits (${transport})`, () => {
    test('maxPushesPerResponse: the rest are hinted', async () => {
      const { app, events } = testApp({ maxPushesPerResponse: 2 })
      const running = await startServer(app, { transport })
      try {
        const res = await h2get(running.url, '/page')
        assert.deepEqual(
          res.pushes.map((p) => p.path),
          ['/css/app.css', '/js/app.js'],
        )
        assert.equal(res.headers['link'], '</api/data>; rel=preload; as=fetch')
        assert.ok(events.some((e) => e.type === 'skipped' && e.reason === 'limit'))
      } finally {
        await running.close()
      }
    })

    test('maxPushBytes: a response that would pass the cap is hinted, smaller ones still pushed', async () => {
      const { app, events } = testApp({ maxPushBytes: 25 })
      const running = await startServer(app, { transport })
      // The same cap written as a size string.
      const asSize = testApp({ maxPushBytes: '25b' })
      const runningAsSize = await startServer(asSize.app, { transport })
      try {
        assert.deepEqual(
          (await h2get(runningAsSize.url, '/page')).pushes.map((p) => p.path),
          ['/css/app.css'],
        )
        const res = await h2get(running.url, '/page')
        // app.css is 21 bytes, app.js 19, /api/data 16: after app.css, neither fits in 25.
        assert.deepEqual(
          res.pushes.map((p) => p.path),
          ['/css/app.css'],
        )
        assert.equal(res.headers['link'], '</js/app.js>; rel=preload; as=script, </api/data>; rel=preload; as=fetch')
        assert.equal(events.filter((e) => e.type === 'skipped' && e.reason === 'bytes').length, 2)
      } finally {
        await runningAsSize.close()
        await running.close()
      }
    })

    test("past the client's initial window: a page of 10 × 10 KB stylesheets and an image gets all 11 pushed, paced by flow control, stylesheets first", async () => {
      const site = await mkdtemp(join(tmpdir(), 'h2push-window-'))
      const manifest: PushManifest = { '/page10': { '/hero.png': { type: 'image' } } }
      await writeFile(join(site, 'hero.png'), Buffer.alloc(10 * 1024, 7))
      for (let i = 0; i < 10; i++) {
        await writeFile(join(site, `${i}.css`), `.c${i}{}`.padEnd(10 * 1024, ' '))
        manifest['/page10']![`/${i}.css`] = { type: 'style' }
      }
      const app = express()
      app.use(pushManifest({ manifest, root: site, watch: false }))
      app.get('/page10', (_req, res) => {
        res.send('<!doctype html>')
      })
      const running = await startServer(app, { transport })
      try {
        // node:http2's client: a 64 KB connection window, less than the 110 KB pushed.
        const res = await h2get(running.url, '/page10')
        assert.deepEqual(
          res.pushes.map((p) => p.path),
          [...Array.from({ length: 10 }, (_, i) => `/${i}.css`), '/hero.png'],
        )
        for (const push of res.pushes) {
          assert.ok(push.ended, `${push.path} completed`)
          assert.equal(push.body.length, 10 * 1024, push.path)
        }
      } finally {
        await running.close()
      }
    })

    // node:http2 resets a finished stream whose request it never read (RST_STREAM NO_ERROR, one
    // setImmediate later) even when its END_STREAM still waits for the client's window.
    test("pushes that spend the client's window: the page still ends with END_STREAM, never RST_STREAM(NO_ERROR)", async () => {
      const running = await startWindowFillingPage(transport)
      const client = await RawH2Client.connect(running.port)
      try {
        client.write(frames.request(1, '/page.html'))
        // The page's data goes out first; 80 KB of pushes spend the 64 KB window before its END_STREAM.
        await client.until(
          (f) => client.dataBytes(1) === 1000 && f.filter((x) => x.type === FRAME.HEADERS && x.streamId % 2 === 0).length === 8,
          5000,
          'the page and 8 pushes answered',
        )
        const spent = await client.stalled()
        assert.equal(spent, 65_535, "DATA before the window ran out: all of the client's window, and no more")
        client.write(frames.windowUpdate(0, 1000))
        await client.stalled()
        assert.deepEqual(
          client.of(FRAME.RST_STREAM).map((f) => f.streamId),
          [],
          'no stream reset while END_STREAM waits for the window',
        )
        client.write(frames.windowUpdate(0, 1 << 20))
        const ids = [1, ...client.of(FRAME.PUSH_PROMISE).map((f) => f.promisedId!)]
        await client.until(() => ids.every((id) => client.finished(id)), 5000, 'every response to end')
        for (const id of ids) {
          const last = client.on(id).at(-1)!
          assert.ok(last.type === FRAME.DATA && last.endStream, `stream ${id} ended with ${last.name}, not DATA with END_STREAM`)
        }
        assert.equal(ids.length, 9)
      } finally {
        await client.close()
        await running.close()
      }
    })

    test('pushes go out one after another, in the order promised: a stylesheet is whole before the next one starts', async () => {
      // 20 KB each: more than one DATA frame on either transport (spdy: 8 KB frames, node:http2: 16 KB).
      const running = await startPushPage(transport, 6, 20 * 1024)
      const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 1, [SETTING.INITIAL_WINDOW_SIZE]: 1 << 20 } })
      try {
        client.write(Buffer.concat([frames.windowUpdate(0, 1 << 20), frames.request(1, '/page.html')]))
        const pushed = () => client.of(FRAME.PUSH_PROMISE).map((f) => f.promisedId!)
        await client.until(() => pushed().length === 6 && [1, ...pushed()].every((id) => client.finished(id)), 5000, 'the page and 6 pushes to end')
        const order = client
          .of(FRAME.DATA)
          .filter((f) => f.streamId % 2 === 0 && f.payload.length > 0)
          .map((f) => f.streamId)
        const runs = order.filter((id, i) => id !== order[i - 1])
        assert.deepEqual(runs, pushed(), `DATA by stream, in arrival order: ${order.join(' ')}`)
        assert.equal(client.dataBytes(), 1000 + 6 * 20 * 1024)
      } finally {
        await client.close()
        await running.close()
      }
    })

    test('a push stopped by its stream window holds the later ones; once the client resets it, they go', async () => {
      const running = await startPushPage(transport, 4, 20 * 1024)
      // Stream windows of 1000 bytes; every pushed stream but the first gets room at once.
      const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 1, [SETTING.INITIAL_WINDOW_SIZE]: 1000 } })
      try {
        client.write(Buffer.concat([frames.windowUpdate(0, 1 << 20), frames.request(1, '/page.html')]))
        const pushed = () => client.of(FRAME.PUSH_PROMISE).map((f) => f.promisedId!)
        await client.until(() => pushed().length === 4, 5000, '4 PUSH_PROMISEs')
        const [first, ...later] = pushed() as [number, ...number[]]
        client.write(Buffer.concat(later.map((id) => frames.windowUpdate(id, 1 << 20))))
        await client.until(() => client.dataBytes(first) === 1000, 5000, 'the first push to spend its window')
        await client.stalled()
        assert.deepEqual(
          later.map((id) => client.dataBytes(id)),
          [0, 0, 0],
          'the later pushes wait for the first',
        )
        client.write(frames.rstStream(first))
        await client.until(() => later.every((id) => client.finished(id)), 5000, 'the later pushes to end')
        assert.deepEqual(
          later.map((id) => client.dataBytes(id)),
          [20 * 1024, 20 * 1024, 20 * 1024],
        )
      } finally {
        await client.close()
        await running.close()
      }
    })

    test('a piped push whose last data spends its stream window still ends with END_STREAM, never RST_STREAM(NO_ERROR)', async () => {
      // Stream windows of exactly the first chunk: the push's END_STREAM waits for a WINDOW_UPDATE.
      const SIZE = 1000
      const live = new PassThrough()
      const app = express()
      app.get('/page', async (_req, res) => {
        const stream = await getPusher(res)!.push('/live.txt')
        void stream.respond(200, { 'content-type': 'text/plain' }, live)
        res.send('page')
      })
      const running = await startServer(app, { transport })
      const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 1, [SETTING.INITIAL_WINDOW_SIZE]: SIZE } })
      try {
        const received = (id: number) => client.dataBytes(id)
        client.write(frames.request(1, '/page'))
        live.write(Buffer.alloc(SIZE, 'p'))
        await client.until(() => received(2) === SIZE && client.finished(1), 5000, 'the page, and the push up to its window')
        live.end()
        // The push's stream finishes, and a reset would be queued, within a few turns of this process's loop.
        for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
        await client.ping()
        assert.deepEqual(
          client
            .on(2)
            .filter((f) => f.type === FRAME.RST_STREAM)
            .map((f) => f.errorCode),
          [],
          'the push is not reset',
        )
        client.write(frames.windowUpdate(2, 1024))
        await client.until(() => client.finished(2), 5000, 'the push to end')
        const last = client.on(2).at(-1)!
        assert.ok(last.type === FRAME.DATA && last.endStream, `the push ended with ${last.name}, not DATA with END_STREAM`)
        assert.equal(received(2), SIZE)
      } finally {
        await client.close()
        await running.close()
      }
    })

    test('preloadHeader: false sends no Link header', async () => {
      const { app } = testApp({ preloadHeader: false })
      const running = await startServer(app, { transport })
      try {
        const res = await h2get(running.url, '/page', { enablePush: false })
        assert.equal(res.headers['link'], undefined)
      } finally {
        await running.close()
      }
    })
  })

describe('hot reload', () => {
  test('a bad edit is logged and the last good manifest stays; a good edit takes effect', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-watch-'))
    const file = join(dir, 'push-manifest.json')
    await writeFile(file, JSON.stringify({ '/page': { '/css/app.css': { type: 'style' } } }))
    const logged: string[] = []
    t.mock.method(console, 'error', (message: string) => logged.push(message))
    const { app, events, middleware } = testApp({ manifest: file, watch: true })
    const running = await startServer(app)
    const next = (type: PushEvent['type']) =>
      new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          if (events.some((e) => e.type === type)) {
            clearInterval(timer)
            resolve()
          }
        }, 20)
      })
    try {
      assert.deepEqual(
        (await h2get(running.url, '/page')).pushes.map((p) => p.path),
        ['/css/app.css'],
      )

      await writeFile(file, '{ "/page": { "/js/app.js": { "type": "scrip" } } }')
      await next('reload-failed')
      assert.equal(logged.length, 1)
      assert.match(
        logged[0]!,
        /^express-h2-push: push manifest .*push-manifest\.json at \/~1page\/~1js~1app\.js\/type: unknown type "scrip"\. Fix: did you mean "script"\?.*\(the last good manifest stays in force\)$/,
      )
      assert.deepEqual(
        (await h2get(running.url, '/page')).pushes.map((p) => p.path),
        ['/css/app.css'],
      )

      await writeFile(file, JSON.stringify({ '/page': { '/js/app.js': { type: 'script' } } }))
      await next('reloaded')
      assert.deepEqual(
        (await h2get(running.url, '/page')).pushes.map((p) => p.path),
        ['/js/app.js'],
      )
    } finally {
      middleware.close()
      await running.close()
    }
  })
})

describe('options', () => {
  test('app.use(pushManifest) without the call is caught', () => {
    const call = pushManifest as unknown as (...args: unknown[]) => unknown
    assert.throws(() => call({ method: 'GET', headers: {}, socket: {} }, {}, () => {}), {
      code: 'ERR_H2PUSH_INVALID_OPTION',
      message: /it is a factory: mount it with app\.use\(pushManifest\(\{ manifest/,
    })
  })

  test('an unknown option gets a "did you mean"', () => {
    assert.throws(() => pushManifest({ manifest: MANIFEST, maxPushBytez: 1 } as never), {
      code: 'ERR_H2PUSH_INVALID_OPTION',
      message: /unknown option "maxPushBytez"\. Did you mean `maxPushBytes`\?/,
    })
  })

  test('bad values name the option', () => {
    assert.throws(() => pushManifest({ manifest: MANIFEST, maxPushesPerResponse: 0 }), /`maxPushesPerResponse` must be a positive integer, got 0/)
    assert.throws(() => pushManifest({} as never), /the `manifest` option is required/)
    assert.throws(() => pushManifest({ manifest: 42 as never }), /`manifest` must be a file path, a file URL or an object, got 42/)
    assert.throws(() => pushManifest({ manifest: MANIFEST, root: '/nonexistent/folder' }), /`root` "\/nonexistent\/folder" is not a folder/)
    // Counts are whole numbers.
    assert.throws(() => pushManifest({ manifest: MANIFEST, diarySize: 2.5 }), /`diarySize` must be a non-negative integer, got 2.5/)
    assert.throws(() => pushManifest({ manifest: MANIFEST, maxPushBytes: 1.5 }), /`maxPushBytes` must be a non-negative integer, got 1.5/)
  })

  test('a manifest file that cannot be read or parsed fails at construction', () => {
    assert.throws(() => pushManifest({ manifest: '/nonexistent/push-manifest.json', watch: false }), { code: 'ERR_PUSH_MANIFEST_READ' })
    assert.throws(() => pushManifest({ manifest: { '/': { '/a.css': { type: 'nope' as never } } }, watch: false }), { code: 'ERR_PUSH_MANIFEST_INVALID' })
  })

  test('the options object is not modified', () => {
    const options = Object.freeze({ manifest: Object.freeze({ ...MANIFEST }), watch: false })
    pushManifest(options)
    assert.deepEqual(Object.keys(options), ['manifest', 'watch'])
  })
})

describe('a manifest entry naming a file that is not under root', () => {
  test('warns at construction (file, JSON pointer, missing path, fix) and is not hinted where it cannot be pushed; pushes are unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-missing-'))
    const file = join(dir, 'push-manifest.json')
    await writeFile(file, JSON.stringify(MANIFEST))
    const warnings: Array<Error & { code?: string }> = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    let made: ReturnType<typeof testApp>
    try {
      made = testApp({ manifest: file })
      made.middleware.reload() // once per entry, not again on reload
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('warning', onWarning)
    }
    const missing = warnings.filter((w) => w.code === 'H2PUSH_MANIFEST_MISSING_FILE')
    assert.equal(missing.length, 1, warnings.map((w) => w.message).join('\n'))
    assert.equal(missing[0]!.name, 'H2PushWarning')
    assert.ok(missing[0]!.message.startsWith(`push manifest ${file} at /~1mixed/~1missing.css: "/missing.css" names no file under root`), missing[0]!.message)
    assert.ok(missing[0]!.message.includes(join(SITE, 'missing.css')), 'names the missing path')
    assert.match(missing[0]!.message, /Fix: correct the URL or the `root` option/)
    // '/private' has no extension: a route of the app, not a missing file.
    assert.ok(!warnings.some((w) => w.message.includes('"/private"')))
    const running = await startServer(made.app, { transport: 'http2' })
    try {
      // A client that takes no push: hinted what exists, not the missing file.
      made.events.length = 0
      const hinted = await h2get(running.url, '/mixed', { enablePush: false })
      assert.equal(hinted.headers['link'], '</css/app.css>; rel=preload; as=style, </private>; rel=preload; as=fetch')
      assert.deepEqual(
        made.events.flatMap((e) => (e.type === 'skipped' && e.url === '/missing.css' ? [[e.reason, e.detail]] : [])),
        [['not-found', 'no such file under root when the manifest was loaded']],
      )
      // A client that takes pushes: as before (the app is asked, answers 404, nothing hinted).
      const pushed = await h2get(running.url, '/mixed')
      assert.deepEqual(
        pushed.pushes.map((p) => p.path),
        ['/css/app.css'],
      )
      assert.equal(pushed.headers['link'], '</private>; rel=preload; as=fetch')
    } finally {
      await running.close()
    }
  })
})

for (const transport of TRANSPORTS) {
  describe(`dispatch through mounted sub-apps (${transport})`, () => {
    test('a push served by a sub-app, and a sub-app with its own manifest', async () => {
      const api = express()
      api.get('/v1/data', (_req, res) => {
        res.set('cache-control', 'public, max-age=60').json({ from: 'sub-app' })
      })
      const inner = express()
      inner.use(pushManifest({ manifest: { '/inner': { '/api/v1/data': { type: 'fetch' } } }, watch: false }))
      inner.get('/inner', (_req, res) => {
        res.send('inner page')
      })
      const app = express()
      app.use(pushManifest({ manifest: { '/page': { '/api/v1/data': { type: 'fetch' } } }, watch: false }))
      app.use('/api', api)
      app.get('/page', (_req, res) => {
        res.send('page')
      })
      app.use(inner)
      const running = await startServer(app, { transport })
      try {
        for (const path of ['/page', '/inner']) {
          const res = await h2get(running.url, path)
          assert.deepEqual(
            res.pushes.map((p) => p.path),
            ['/api/v1/data'],
            path,
          )
          assert.deepEqual(JSON.parse(res.pushes[0]!.body.toString()), { from: 'sub-app' }, path)
        }
        assert.deepEqual(JSON.parse((await h2get(running.url, '/api/v1/data')).body.toString()), { from: 'sub-app' })
      } finally {
        await running.close()
      }
    })
  })
}
