/**
 * 103 Early Hints on every transport: HTTP/2 frames (node:http2 client with push
 * disabled, nghttp on the wire), HTTP/1.1 only when asked, and a user's own
 * res.writeEarlyHints() on spdy.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import https from 'node:https'
import type { IncomingHttpHeaders } from 'node:http'
import express from 'express'
import { pushManifest, type PushManifest, type PushManifestOptions } from '../index.js'
import { security } from '../middleware/security.js'
import { h2get } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { nghttp, requestStreamId } from './helpers/nghttp.js'

const MANIFEST: PushManifest = {
  '/page': { '/a.css': { type: 'style' }, '/b.js': { type: 'script' } },
  '/mixed': { '/a.css': { type: 'style' }, '/font.woff2': { type: 'font', nopush: true } },
}
const PAGE_LINKS = '</a.css>; rel=preload; as=style, </b.js>; rel=preload; as=script'

function app(options: Partial<PushManifestOptions> = {}) {
  const made = express()
  made.use(security())
  made.use(pushManifest({ manifest: MANIFEST, watch: false, ...options }))
  made.get('/a.css', (_req, res) => {
    res.type('css').send('a {}')
  })
  made.get('/b.js', (_req, res) => {
    res.type('js').send('void 0')
  })
  made.get('/font.woff2', (_req, res) => {
    res.type('font/woff2').send(Buffer.alloc(8))
  })
  made.get(['/page', '/mixed'], (_req, res) => {
    res.type('html').send('<h1>page</h1>')
  })
  made.get('/own-hints', (_req, res) => {
    res.writeEarlyHints({ link: '</a.css>; rel=preload; as=style' })
    res.type('text').send('after hints')
  })
  return made
}

function http1Get(
  url: string,
  path: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; informational: Array<{ statusCode: number; headers: IncomingHttpHeaders }> }> {
  return new Promise((resolve, reject) => {
    const informational: Array<{ statusCode: number; headers: IncomingHttpHeaders }> = []
    const req = https.get(`${url}${path}`, { rejectUnauthorized: false, agent: false, ALPNProtocols: ['http/1.1'] } as https.RequestOptions, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, informational }))
    })
    req.on('information', (info) => informational.push({ statusCode: info.statusCode, headers: info.headers }))
    req.on('error', reject)
  })
}

for (const transport of TRANSPORTS) {
  describe(`103 Early Hints (${transport})`, () => {
    let running: Running
    before(async () => {
      running = await startServer(app(), { transport })
    })
    after(() => running.close())

    test('a client with push disabled gets one 103 with the Link values before the final response, which keeps them', async () => {
      const res = await h2get(running.url, '/page', { enablePush: false })
      assert.equal(res.status, 200)
      assert.equal(res.pushes.length, 0)
      assert.equal(res.informational.length, 1)
      assert.equal(res.informational[0]![':status'], 103)
      assert.equal(res.informational[0]!['link'], PAGE_LINKS)
      assert.equal(res.headers['link'], PAGE_LINKS)
      assert.equal(res.body.toString(), '<h1>page</h1>')
    })

    test('on the wire (nghttp, push on): a :status 103 HEADERS frame for the unpushed entry, before the final HEADERS', async () => {
      const { frames } = await nghttp(`${running.url}/mixed`)
      const id = requestStreamId(frames)
      const headers = frames.filter((f) => f.dir === 'recv' && f.type === 'HEADERS' && f.streamId === id)
      assert.deepEqual(
        headers.map((f) => f.headers?.[':status']),
        ['103', '200'],
      )
      assert.equal(headers[0]!.headers?.['link'], '</font.woff2>; rel=preload; as=font; crossorigin; nopush')
      const promise = frames.findIndex((f) => f.type === 'PUSH_PROMISE' && f.streamId === id)
      assert.ok(promise >= 0 && promise < frames.indexOf(headers[1]!), 'the pushed entry is promised before the final HEADERS')
      assert.ok(!frames.some((f) => f.dir === 'recv' && f.type === 'RST_STREAM'))
    })

    test("a route's own res.writeEarlyHints() sends a real 103", async () => {
      const res = await h2get(running.url, '/own-hints', { enablePush: false })
      assert.equal(res.informational[0]?.[':status'], 103)
      assert.equal(res.informational[0]?.['link'], '</a.css>; rel=preload; as=style')
      assert.equal(res.body.toString(), 'after hints')
    })

    test('HTTP/1.1: Link header, no 103 by default', async () => {
      const res = await http1Get(running.url, '/page')
      assert.equal(res.status, 200)
      assert.equal(res.headers['link'], PAGE_LINKS)
      assert.deepEqual(res.informational, [])
    })
  })

  describe(`earlyHints option (${transport})`, () => {
    test("'always' sends a 103 over HTTP/1.1 too", async () => {
      const running = await startServer(app({ earlyHints: 'always' }), { transport })
      try {
        const res = await http1Get(running.url, '/page')
        assert.equal(res.informational.length, 1)
        assert.equal(res.informational[0]!.statusCode, 103)
        assert.equal(res.informational[0]!.headers['link'], PAGE_LINKS)
      } finally {
        await running.close()
      }
    })

    test('false sends no 103, the Link header stays', async () => {
      const running = await startServer(app({ earlyHints: false }), { transport })
      try {
        const res = await h2get(running.url, '/page', { enablePush: false })
        assert.deepEqual(res.informational, [])
        assert.equal(res.headers['link'], PAGE_LINKS)
      } finally {
        await running.close()
      }
    })
  })
}
