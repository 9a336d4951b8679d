/**
 * Express's request/response API on every transport (node:http2 goes through the
 * Express 5 bridge), and the push middleware on a plain HTTP/1.1 server, as behind a
 * TLS-terminating proxy.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { once } from 'node:events'
import { gunzipSync } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import express from 'express'
import compression from 'compression'
import { pushManifest, type PushEvent } from '../index.js'
import { security } from '../middleware/security.js'
import { h2get } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'

const SITE = fileURLToPath(new URL('./fixtures/site/', import.meta.url))

function expressApp() {
  const app = express()
  app.use(security())
  app.get('/users/:id', (req, res) => {
    res.json({
      id: req.params.id,
      query: req.query,
      hostname: req.hostname,
      protocol: req.protocol,
      secure: req.secure,
      accepts: req.accepts(['json', 'html']),
    })
  })
  app.get('/file', (_req, res) => {
    res.sendFile('css/app.css', { root: SITE })
  })
  app.get('/old', (_req, res) => {
    res.redirect(301, '/users/1')
  })
  app.get('/big', compression({ threshold: 0 }), (_req, res) => {
    res.type('text').send('compressible '.repeat(100))
  })
  app.use('/static', express.static(SITE))
  app.post('/echo', express.json(), (req, res) => {
    res.status(201).json(req.body)
  })
  return app
}

for (const transport of TRANSPORTS) {
  describe(`Express API (${transport})`, () => {
    let running: Running
    before(async () => {
      running = await startServer(expressApp(), { transport })
    })
    after(() => running.close())

    test('req.params, req.query, req.hostname, req.protocol, req.accepts, res.json', async () => {
      const res = await h2get(running.url, '/users/42?tab=posts', { headers: { accept: 'application/json' } })
      assert.equal(res.status, 200)
      assert.deepEqual(JSON.parse(res.body.toString()), {
        id: '42',
        query: { tab: 'posts' },
        hostname: '127.0.0.1',
        protocol: 'https',
        secure: true,
        accepts: 'json',
      })
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains')
    })

    test('res.sendFile, express.static (with 304), res.redirect, compression', async () => {
      const file = await h2get(running.url, '/file')
      assert.equal(file.body.toString(), 'body { color: #222 }\n')
      assert.match(String(file.headers['content-type']), /^text\/css/)
      const first = await h2get(running.url, '/static/js/app.js')
      assert.equal(first.body.toString(), 'console.log("app")\n')
      const again = await h2get(running.url, '/static/js/app.js', { headers: { 'if-none-match': String(first.headers['etag']) } })
      assert.equal(again.status, 304)
      const redirect = await h2get(running.url, '/old')
      assert.equal(redirect.status, 301)
      assert.equal(redirect.headers['location'], '/users/1')
      const gz = await h2get(running.url, '/big', { headers: { 'accept-encoding': 'gzip' } })
      assert.equal(gz.headers['content-encoding'], 'gzip')
      assert.equal(gunzipSync(gz.body).toString(), 'compressible '.repeat(100))
    })

    test('a request body through express.json()', async () => {
      const { H2Client } = await import('./helpers/h2.js')
      const client = new H2Client(running.url)
      try {
        const r = client.open('/echo', { ':method': 'POST', 'content-type': 'application/json' })
        r.stream.end(JSON.stringify({ hello: 'world' }))
        const headers = await r.response
        await r.closed
        assert.equal(headers[':status'], 201)
        assert.deepEqual(JSON.parse(r.body().toString()), { hello: 'world' })
      } finally {
        await client.close()
      }
    })
  })
}

describe('plain HTTP/1.1 (an app behind a TLS-terminating proxy)', () => {
  test('no push attempted, Link headers sent, nothing breaks', async () => {
    const events: PushEvent[] = []
    const app = express()
    app.use(pushManifest({ manifest: { '/page': { '/css/app.css': { type: 'style' } } }, root: SITE, watch: false, onEvent: (e) => events.push(e) }))
    app.get('/page', (_req, res) => {
      res.send('page')
    })
    const server = http.createServer(app).listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const { port } = server.address() as AddressInfo
      const res = await new Promise<http.IncomingMessage & { body: string }>((resolve, reject) => {
        http
          .get({ port, host: '127.0.0.1', path: '/page', agent: false }, (r) => {
            let body = ''
            r.setEncoding('utf8').on('data', (d: string) => (body += d))
            r.on('end', () => resolve(Object.assign(r, { body })))
          })
          .on('error', reject)
      })
      assert.equal(res.statusCode, 200)
      assert.equal(res.body, 'page')
      assert.equal(res.headers['link'], '</css/app.css>; rel=preload; as=style')
      assert.deepEqual(
        events.map((e) => e.type === 'skipped' && e.reason),
        ['push-unsupported'],
      )
    } finally {
      server.close()
    }
  })
})

for (const transport of TRANSPORTS) {
  describe(`mounted sub-apps (${transport})`, () => {
    test('app.use("/api", subApp): the sub-app and the middleware after it both work', async () => {
      const api = express()
      api.get('/items/:id', (req, res) => {
        res.json({ id: req.params.id, baseUrl: req.baseUrl })
      })
      const app = express()
      app.use('/api', api)
      app.get('/after', (_req, res) => {
        res.type('text').send('after the sub-app')
      })
      const running = await startServer(app, { transport })
      try {
        assert.deepEqual(JSON.parse((await h2get(running.url, '/api/items/7')).body.toString()), { id: '7', baseUrl: '/api' })
        assert.equal((await h2get(running.url, '/after')).body.toString(), 'after the sub-app')
        assert.equal((await h2get(running.url, '/api/none')).status, 404)
      } finally {
        await running.close()
      }
    })
  })
}
