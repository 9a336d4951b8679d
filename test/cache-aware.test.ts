/**
 * Cache-aware push over real HTTP/2: never the same asset twice on a connection,
 * nothing a returning client holds (cache digest cookie), a changed asset again,
 * a hard reload everything, and any cookie value survived.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { cp, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import express from 'express'
import { pushManifest, type PushEvent } from '../index.js'
import { H2Client, h2get, type Exchange } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/site/', import.meta.url))
const MANIFEST = { '/page': { '/css/app.css': { type: 'style' }, '/js/app.js': { type: 'script' } } } as const

function digestCookie(res: Exchange): string | undefined {
  const cookies = res.headers['set-cookie'] ?? []
  return cookies.map((c) => c.split(';')[0]!).find((c) => c.startsWith('h2push='))
}

for (const transport of TRANSPORTS) {
  describe(`cache-aware push (${transport})`, () => {
    let running: Running
    let site: string
    const events: PushEvent[] = []

    before(async () => {
      site = await mkdtemp(join(tmpdir(), 'h2push-site-'))
      await cp(FIXTURE, site, { recursive: true })
      const app = express()
      // fileRecheck 0: a file changed on disk is pushed as it is now at once.
      app.use(pushManifest({ manifest: MANIFEST, root: site, watch: false, fileRecheck: 0, onEvent: (e) => events.push(e) }))
      app.get('/page', (_req, res) => {
        res.send('page')
      })
      running = await startServer(app, { transport })
    })
    after(() => running.close())

    test('on one connection, 3 requests: each asset pushed once, then preloaded', async () => {
      events.length = 0
      const client = new H2Client(running.url)
      try {
        const first = await client.request('/page')
        const second = await client.request('/page')
        const third = await client.request('/page')
        assert.deepEqual(
          first.pushes.map((p) => p.path),
          ['/css/app.css', '/js/app.js'],
        )
        assert.equal(second.pushes.length, 0)
        assert.equal(third.pushes.length, 0)
        assert.equal(second.headers['link'], '</css/app.css>; rel=preload; as=style, </js/app.js>; rel=preload; as=script')
        const cached = events.filter((e) => e.type === 'skipped' && e.reason === 'cached')
        assert.equal(cached.length, 4)
      } finally {
        await client.close()
      }
    })

    test('a new connection with the digest cookie: nothing pushed; a changed asset: exactly that one pushed', async () => {
      const first = await h2get(running.url, '/page')
      assert.equal(first.pushes.length, 2)
      const cookie = digestCookie(first)
      assert.ok(cookie, 'no digest cookie')
      const setCookie = String(first.headers['set-cookie'])
      assert.match(setCookie, /; Max-Age=604800/)
      assert.match(setCookie, /; Path=\//)
      assert.match(setCookie, /; HttpOnly/)
      assert.match(setCookie, /; Secure/)
      assert.match(setCookie, /; SameSite=Lax/)

      const returning = await h2get(running.url, '/page', { headers: { cookie } })
      assert.equal(returning.pushes.length, 0)
      assert.equal(
        returning.pushes.reduce((n, p) => n + p.body.length, 0),
        0,
      )

      await writeFile(join(site, 'css', 'app.css'), 'body { color: #345; margin: 0 }\n')
      const changed = await h2get(running.url, '/page', { headers: { cookie } })
      assert.deepEqual(
        changed.pushes.map((p) => p.path),
        ['/css/app.css'],
      )
      assert.equal(changed.pushes[0]!.body.toString(), 'body { color: #345; margin: 0 }\n')
      const updated = digestCookie(changed)
      assert.ok(updated && updated !== cookie, 'the digest was not updated')
      assert.equal((await h2get(running.url, '/page', { headers: { cookie: updated } })).pushes.length, 0)
    })

    test('fileRecheck (default 1000): a changed file is pushed as last seen within the window, as it is now after it', async () => {
      const own = await mkdtemp(join(tmpdir(), 'h2push-recheck-'))
      await cp(FIXTURE, own, { recursive: true })
      const app = express()
      app.use(pushManifest({ manifest: MANIFEST, root: own, watch: false, cacheDigest: false }))
      app.get('/page', (_req, res) => {
        res.send('page')
      })
      const server = await startServer(app, { transport })
      try {
        const js = (res: Exchange) => res.pushes.find((p) => p.path === '/js/app.js')!
        const before = js(await h2get(server.url, '/page'))
        await writeFile(join(own, 'js', 'app.js'), 'console.log("changed")\n')
        const within = js(await h2get(server.url, '/page'))
        assert.equal(within.body.toString(), before.body.toString(), 'within the window: the file as last seen')
        assert.equal(within.headers['etag'], before.headers['etag'])
        await sleep(1100)
        const after = js(await h2get(server.url, '/page'))
        assert.equal(after.body.toString(), 'console.log("changed")\n')
        assert.notEqual(after.headers['etag'], before.headers['etag'])
        assert.equal(after.headers['content-length'], String(Buffer.byteLength('console.log("changed")\n')))
      } finally {
        await server.close()
      }
    })

    test('a hard reload (Cache-Control / Pragma: no-cache) ignores the digest', async () => {
      const cookie = digestCookie(await h2get(running.url, '/page'))!
      for (const headers of [{ 'cache-control': 'no-cache' }, { pragma: 'no-cache' }]) {
        const res = await h2get(running.url, '/page', { headers: { cookie, ...headers } })
        assert.equal(res.pushes.length, 2, JSON.stringify(headers))
      }
    })

    test('any cookie value (random, garbage, huge, broken base64; 500 cases): a normal response, and the digest replaced', async () => {
      const client = new H2Client(running.url)
      try {
        const headerSafe = fc
          .string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 })
          .filter((s) => !s.includes(';'))
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              headerSafe,
              fc.base64String({ maxLength: 600 }),
              fc.base64String({ minLength: 8, maxLength: 100 }).map((s) => s.replace(/=/g, '') + '!'),
              fc.constantFrom('', '%', '%zz', 'AAAA', '"quoted"'),
              fc.integer({ min: 3000, max: 6000 }).map((n) => 'A'.repeat(n)),
            ),
            async (value) => {
              const res = await client.request('/page', { cookie: `a=1; h2push=${value}; b=2` })
              assert.equal(res.status, 200)
              assert.equal(res.body.toString(), 'page')
              const replaced = digestCookie(res)
              assert.ok(replaced && replaced !== `h2push=${value}`, `digest not replaced for ${JSON.stringify(value.slice(0, 40))}`)
            },
          ),
          { numRuns: 500 },
        )
      } finally {
        await client.close()
      }
      assert.equal((await h2get(running.url, '/page')).status, 200)
    })
  })
}

describe('caches belong to their middleware', () => {
  test('what one pushManifest keeps of a file (its stat, a small body) is not what another pushes', async () => {
    const site = await mkdtemp(join(tmpdir(), 'h2push-instances-'))
    await writeFile(join(site, 'a.css'), 'first')
    const serve = (recheck: number) => {
      const app = express()
      app.use(pushManifest({ manifest: { '/': { '/a.css': { type: 'style' } } }, root: site, watch: false, cacheDigest: false, fileRecheck: recheck }))
      app.get('/', (_req, res) => {
        res.send('page')
      })
      return startServer(app, { transport: 'http2' })
    }
    const one = await serve(60_000)
    try {
      assert.equal((await h2get(one.url, '/')).pushes[0]?.body.toString(), 'first')
      await writeFile(join(site, 'a.css'), 'second!')
      // The first instance pushes what it saw within its minute; a new one reads the file as it is.
      assert.equal((await h2get(one.url, '/')).pushes[0]?.body.toString(), 'first')
      const two = await serve(60_000)
      try {
        assert.equal((await h2get(two.url, '/')).pushes[0]?.body.toString(), 'second!')
      } finally {
        await two.close()
      }
    } finally {
      await one.close()
    }
  })
})
