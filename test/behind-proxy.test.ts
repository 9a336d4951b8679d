/**
 * behindProxy: over HTTP/1.1 from an edge that pushes what the Link header lists, the
 * middleware decides what the edge pushes: a first visit's entries are linked for the edge
 * to push and recorded in the digest cookie; a returning visitor's come back `nopush`.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import express from 'express'
import { pushManifest, type PushEvent } from '../index.js'

const SITE = fileURLToPath(new URL('./fixtures/site/', import.meta.url))
const MANIFEST = { '/page': { '/css/app.css': { type: 'style' }, '/js/app.js': { type: 'script' }, '/js/never.js': { type: 'script', nopush: true } } } as const

interface Answer {
  status: number
  link: string | undefined
  cookie: string | undefined
  informational: Array<{ statusCode: number; link: unknown }>
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const informational: Answer['informational'] = []
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume()
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          link: Array.isArray(res.headers['link']) ? res.headers['link'].join(', ') : res.headers['link'],
          cookie: res.headers['set-cookie']?.[0]?.split(';')[0],
          informational,
        }),
      )
    })
    req.on('information', (info) => informational.push({ statusCode: info.statusCode, link: info.headers['link'] }))
    req.on('error', reject)
  })
}

describe('behindProxy (HTTP/1.1 from an edge)', () => {
  let server: http.Server
  let port: number
  const events: PushEvent[] = []

  before(async () => {
    const app = express()
    app.use(pushManifest({ manifest: MANIFEST, root: SITE, watch: false, behindProxy: true, onEvent: (e) => events.push(e) }))
    app.get('/page', (_req, res) => {
      res.send('<!doctype html><title>page</title>')
    })
    server = http.createServer(app).listen(0, '127.0.0.1')
    await once(server, 'listening')
    port = (server.address() as AddressInfo).port
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  test('first visit: links for the edge to push, recorded in the digest cookie; no 103 unless earlyHints is "always"', async () => {
    const first = await get(port, '/page')
    assert.equal(first.status, 200)
    assert.equal(first.link, '</css/app.css>; rel=preload; as=style, </js/app.js>; rel=preload; as=script, </js/never.js>; rel=preload; as=script; nopush')
    assert.match(first.cookie ?? '', /^h2push=/)
    assert.deepEqual(first.informational, [])
    assert.deepEqual(
      events.filter((e) => e.type === 'asked-edge').map((e) => e.type === 'asked-edge' && e.url),
      ['/css/app.css', '/js/app.js'],
    )
  })

  test('returning visit with the cookie: every link nopush (nothing pushed again), no new cookie', async () => {
    const first = await get(port, '/page')
    const again = await get(port, '/page', { cookie: first.cookie! })
    assert.equal(
      again.link,
      '</css/app.css>; rel=preload; as=style; nopush, </js/app.js>; rel=preload; as=script; nopush, </js/never.js>; rel=preload; as=script; nopush',
    )
    assert.equal(again.cookie, undefined)
    // A hard reload asks for everything again.
    const reload = await get(port, '/page', { cookie: first.cookie!, 'cache-control': 'no-cache' })
    assert.doesNotMatch(reload.link ?? '', /app\.css>; rel=preload; as=style; nopush/)
  })

  test("earlyHints: 'always' sends the 103 over HTTP/1.1 too, for edges that forward it", async () => {
    const app = express()
    app.use(pushManifest({ manifest: MANIFEST, root: SITE, watch: false, behindProxy: true, earlyHints: 'always' }))
    app.get('/page', (_req, res) => {
      res.send('page')
    })
    const hinting = http.createServer(app).listen(0, '127.0.0.1')
    await once(hinting, 'listening')
    try {
      const res = await get((hinting.address() as AddressInfo).port, '/page')
      assert.deepEqual(
        res.informational.map((i) => i.statusCode),
        [103],
      )
      assert.match(String(res.informational[0]!.link), /<\/css\/app\.css>; rel=preload; as=style/)
    } finally {
      hinting.close()
    }
  })

  test('without behindProxy, HTTP/1.1 gets plain preloads, no cookie and no 103', async () => {
    const app = express()
    app.use(pushManifest({ manifest: MANIFEST, root: SITE, watch: false }))
    app.get('/page', (_req, res) => {
      res.send('page')
    })
    const plain = http.createServer(app).listen(0, '127.0.0.1')
    await once(plain, 'listening')
    try {
      const res = await get((plain.address() as AddressInfo).port, '/page')
      assert.equal(res.link, '</css/app.css>; rel=preload; as=style, </js/app.js>; rel=preload; as=script, </js/never.js>; rel=preload; as=script; nopush')
      assert.equal(res.cookie, undefined)
      assert.deepEqual(res.informational, [])
    } finally {
      plain.close()
    }
  })
})
