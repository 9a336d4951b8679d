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
import { pushManifest, type PushEvent, type PushManifestOptions } from '../index.js'

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

/** An HTTP/1.1 server of an app with the manifest's middleware (these options added) before a `/page` route. */
async function startPageServer(options: Partial<PushManifestOptions>): Promise<{ port: number; close(): Promise<void> }> {
  const app = express()
  app.use(pushManifest({ manifest: MANIFEST, root: SITE, watch: false, ...options }))
  app.get('/page', (_req, res) => {
    res.send('<!doctype html><title>page</title>')
  })
  const server = http.createServer(app).listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

describe('behindProxy (HTTP/1.1 from an edge)', () => {
  let server: Awaited<ReturnType<typeof startPageServer>>
  let port: number
  const events: PushEvent[] = []

  before(async () => {
    server = await startPageServer({ behindProxy: true, onEvent: (e) => events.push(e) })
    port = server.port
  })
  after(() => server.close())

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
    const hinting = await startPageServer({ behindProxy: true, earlyHints: 'always' })
    try {
      const res = await get(hinting.port, '/page')
      assert.deepEqual(
        res.informational.map((i) => i.statusCode),
        [103],
      )
      assert.match(String(res.informational[0]!.link), /<\/css\/app\.css>; rel=preload; as=style/)
    } finally {
      await hinting.close()
    }
  })

  test('without behindProxy, HTTP/1.1 gets plain preloads, no cookie and no 103', async () => {
    const plain = await startPageServer({})
    try {
      const res = await get(plain.port, '/page')
      assert.equal(res.link, '</css/app.css>; rel=preload; as=style, </js/app.js>; rel=preload; as=script, </js/never.js>; rel=preload; as=script; nopush')
      assert.equal(res.cookie, undefined)
      assert.deepEqual(res.informational, [])
    } finally {
      await plain.close()
    }
  })
})
