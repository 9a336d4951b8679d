/**
 * Pushes go with a successful response only: a page answered 401, 500 or 404 has its
 * promised pushes reset before their bodies go (no pushed HEADERS or DATA), a
 * conditional request is not pushed at all, and pushed responses inherit the origin's
 * security headers, not another middleware's per-request headers.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import helmet from 'helmet'
import { pushManifest, type PushEvent } from '../index.js'
import { H2Client } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { RawH2Client, FRAME, frames } from './helpers/raw-h2.js'

const ENTRIES = { '/a.css': { type: 'style' }, '/b.js': { type: 'script' } } as const

for (const transport of TRANSPORTS) {
  describe(`pushes follow the page's status (${transport})`, () => {
    let running: Running
    const events: PushEvent[] = []

    before(async () => {
      const site = await mkdtemp(join(tmpdir(), 'h2push-status-'))
      await writeFile(join(site, 'a.css'), 'a{}')
      await writeFile(join(site, 'b.js'), 'b()')
      const app = express()
      app.set('env', 'test')
      app.use(helmet())
      // A CORS middleware that reflects the Origin: per request, not for pushed files.
      app.use((req, res, next) => {
        if (req.headers.origin) {
          res.set('Access-Control-Allow-Origin', req.headers.origin)
          res.set('Access-Control-Allow-Credentials', 'true')
          res.vary('Origin')
        }
        next()
      })
      app.use(
        pushManifest({
          manifest: { '/page': ENTRIES, '/deny': ENTRIES, '/boom': ENTRIES, '/nowhere': ENTRIES, '/redirect': ENTRIES },
          root: site,
          watch: false,
          cacheDigest: false,
          diarySize: 0,
          onEvent: (e) => events.push(e),
        }),
      )
      app.get('/page', (_req, res) => {
        res.send('<!doctype html><title>page</title>')
      })
      app.get('/deny', (_req, res) => {
        res.status(401).send('who are you')
      })
      app.get('/boom', () => {
        throw new Error('the route failed')
      })
      app.get('/redirect', (_req, res) => {
        res.redirect(302, '/page')
      })
      running = await startServer(app, { transport })
    })

    after(async () => {
      await running.close()
    })

    for (const [path, status] of [
      ['/deny', 401],
      ['/boom', 500],
      ['/nowhere', 404],
    ] as const) {
      test(`${path} answers ${status}: its promised pushes are reset before any pushed HEADERS or DATA`, async () => {
        events.length = 0
        const client = await RawH2Client.connect(running.port)
        client.write(frames.request(1, path))
        await client.until(() => client.finished(1))
        const promised = client.of(FRAME.PUSH_PROMISE).map((f) => f.promisedId!)
        assert.deepEqual(promised, [2, 4], 'promised before the status was known')
        await client.until(() => promised.every((id) => client.finished(id)))
        for (const id of promised) {
          const onPush = client.on(id).map((f) => `${f.name}${f.errorCode === undefined ? '' : ` ${f.errorCode}`}`)
          assert.deepEqual(onPush, ['RST_STREAM 8'], `stream ${id}`)
        }
        await client.close()
        const reasons = events.flatMap((e) => (e.type === 'skipped' ? [`${e.url} ${e.reason} ${e.detail}`] : []))
        assert.deepEqual(reasons, [`/a.css parent-status the response is ${status}`, `/b.js parent-status the response is ${status}`])
        assert.equal(events.filter((e) => e.type === 'pushed').length, 0)
      })
    }

    test('a 302 is a success: its pushes go', async () => {
      const client = new H2Client(running.url)
      try {
        const res = await client.request('/redirect')
        assert.equal(res.status, 302)
        assert.deepEqual(
          res.pushes.map((p) => [p.path, p.ended]),
          [
            ['/a.css', true],
            ['/b.js', true],
          ],
        )
      } finally {
        await client.close()
      }
    })

    test('a conditional request (If-None-Match, If-Modified-Since) gets no PUSH_PROMISE, and a 304 no Link', async () => {
      const client = new H2Client(running.url)
      try {
        const first = await client.request('/page')
        assert.equal(first.pushes.length, 2)
        const etag = String(first.headers['etag'])
        const revalidated = await client.request('/page', { 'if-none-match': etag })
        assert.equal(revalidated.status, 304)
        assert.equal(revalidated.pushes.length, 0)
        assert.equal(revalidated.headers['link'], undefined)
        const since = await client.request('/page', { 'if-modified-since': new Date().toUTCString() })
        assert.equal(since.status, 200, 'express answers 200 without Last-Modified')
        assert.equal(since.pushes.length, 0)
        assert.match(String(since.headers['link']), /<\/a\.css>; rel=preload; as=style/)
      } finally {
        await client.close()
      }
      assert.ok(events.some((e) => e.type === 'skipped' && e.reason === 'conditional'))
    })

    test("pushed files inherit helmet's headers, not a reflected Access-Control-Allow-Origin", async () => {
      const client = new H2Client(running.url)
      try {
        const res = await client.request('/page', { origin: 'https://evil.example' })
        assert.equal(res.headers['access-control-allow-origin'], 'https://evil.example')
        assert.equal(res.pushes.length, 2)
        for (const push of res.pushes) {
          assert.equal(push.headers['access-control-allow-origin'], undefined, push.path)
          assert.equal(push.headers['access-control-allow-credentials'], undefined, push.path)
          assert.equal(push.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', push.path)
          assert.equal(push.headers['x-content-type-options'], 'nosniff', push.path)
        }
      } finally {
        await client.close()
      }
    })
  })
}

describe('inheritHeaders', () => {
  test('names the headers pushed responses inherit; a bad name is refused at construction', async () => {
    assert.throws(() => pushManifest({ manifest: {}, inheritHeaders: ['x ok'] }), /inheritHeaders\[0\]` "x ok" is not a header name/)
    assert.throws(() => pushManifest({ manifest: {}, inheritHeaders: 'x-a' as unknown as string[] }), /`inheritHeaders` must be an array, got "x-a"/)
    const site = await mkdtemp(join(tmpdir(), 'h2push-inherit-'))
    await writeFile(join(site, 'a.css'), 'a{}')
    const app = express()
    app.use((_req, res, next) => {
      res.set('X-Origin-Wide', 'yes')
      res.set('Strict-Transport-Security', 'max-age=1')
      next()
    })
    app.use(pushManifest({ manifest: { '/page': { '/a.css': { type: 'style' } } }, root: site, watch: false, inheritHeaders: ['X-Origin-Wide'] }))
    app.get('/page', (_req, res) => {
      res.send('page')
    })
    const running = await startServer(app, { transport: 'http2' })
    const client = new H2Client(running.url)
    try {
      const res = await client.request('/page')
      assert.equal(res.pushes[0]?.headers['x-origin-wide'], 'yes')
      assert.equal(res.pushes[0]?.headers['strict-transport-security'], undefined)
    } finally {
      await client.close()
      await running.close()
    }
  })
})
