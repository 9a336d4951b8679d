/**
 * The Express 5 bridge on node:http2 (src/transports/http2/bridge.ts, compat-layer.ts):
 * node:http2's request and response members under Express's API, in the root app, in a
 * mounted sub-app and after it, read and written; HTTP/1.1 requests on the same server and
 * on plain node:http keep node:http's; a listener that is not an Express app still works.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import https from 'node:https'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import express, { type Request, type Response } from 'express'
import { h2get } from './helpers/h2.js'
import { startServer, type Running } from './helpers/server.js'
import { testCertificate } from './helpers/tls.js'

/** What a request and its response look like from inside the app. */
function looks(req: Request, res: Response) {
  const h2req = req as unknown as Http2ServerRequest
  const h2res = res as unknown as Http2ServerResponse
  return {
    httpVersion: req.httpVersion,
    method: req.method,
    url: req.url,
    originalUrl: req.originalUrl,
    authority: h2req.authority ?? null,
    scheme: h2req.scheme ?? null,
    requestStream: typeof h2req.stream?.respond === 'function',
    responseStream: typeof h2res.stream?.pushStream === 'function',
    socketEncrypted: (req.socket as { encrypted?: boolean }).encrypted === true,
    remoteAddress: req.socket.remoteAddress ?? null,
    headersSent: res.headersSent,
    ownMembers: Object.getOwnPropertyNames(req).includes('url') && Object.getOwnPropertyNames(res).includes('writeHead'),
  }
}

function bridgedApp() {
  const api = express()
  api.get('/inside', (req, res, next) => {
    res.locals['inside'] = looks(req, res)
    next()
  })
  const app = express()
  app.use((req, _res, next) => {
    // Written through node:http2's setter (Http2ServerRequest's url).
    if (req.url === '/rewrite-me') req.url = '/rewritten'
    next()
  })
  app.use('/api', api)
  app.get('/api/inside', (req, res) => {
    // After the sub-app handed the request back: the root app's prototypes again.
    res.json({ inside: res.locals['inside'], after: looks(req, res) })
  })
  app.get('/rewritten', (req, res) => {
    res.statusCode = 202
    res.setHeader('x-url', req.url)
    res.json(looks(req, res))
  })
  return app
}

describe('Express over node:http2: the bridge', () => {
  let running: Running
  before(async () => {
    running = await startServer(bridgedApp(), { transport: 'http2' })
  })
  after(() => running.close())

  test('HTTP/2: node:http2 members in a mounted sub-app and after it, none copied onto the request', async () => {
    const res = await h2get(running.url, '/api/inside')
    assert.equal(res.status, 200)
    const { inside, after } = JSON.parse(res.body.toString()) as Record<string, ReturnType<typeof looks>>
    const expected = {
      httpVersion: '2.0',
      method: 'GET',
      authority: `127.0.0.1:${running.port}`,
      scheme: 'https',
      requestStream: true,
      responseStream: true,
      socketEncrypted: true,
      remoteAddress: '127.0.0.1',
      headersSent: false,
      ownMembers: false,
    }
    assert.deepEqual(inside, { ...expected, url: '/inside', originalUrl: '/api/inside' })
    assert.deepEqual(after, { ...expected, url: '/api/inside', originalUrl: '/api/inside' })
  })

  test('HTTP/2: req.url and res.statusCode written through node:http2 setters', async () => {
    const res = await h2get(running.url, '/rewrite-me')
    assert.equal(res.status, 202)
    assert.equal(res.headers['x-url'], '/rewritten')
    assert.equal((JSON.parse(res.body.toString()) as { url: string }).url, '/rewritten')
  })

  test('HTTP/1.1 on the same server: node:http members', async () => {
    const { cert } = await testCertificate()
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: running.port, path: '/rewrite-me', ca: cert, servername: 'localhost', agent: false }, (r) => {
          let text = ''
          r.setEncoding('utf8').on('data', (d: string) => (text += d))
          r.on('end', () => resolve(text))
        })
        .on('error', reject)
    })
    const seen = JSON.parse(body) as ReturnType<typeof looks>
    assert.equal(seen.httpVersion, '1.1')
    assert.equal(seen.url, '/rewritten')
    assert.equal(seen.authority, null)
    assert.equal(seen.requestStream, false)
    assert.equal(seen.responseStream, false)
    assert.equal(seen.socketEncrypted, true)
  })
})

test('a listener that is not an Express app, calling one, still gets node:http2 members', async () => {
  const app = express()
  app.get('/', (req, res) => {
    res.json(looks(req, res))
  })
  const listener = (req: IncomingMessage, res: ServerResponse): void => app(req as Request, res as Response)
  const running = await startServer(listener, { transport: 'http2' })
  try {
    const res = await h2get(running.url, '/')
    const seen = JSON.parse(res.body.toString()) as ReturnType<typeof looks>
    assert.equal(seen.httpVersion, '2.0')
    assert.equal(seen.requestStream, true)
    assert.equal(seen.responseStream, true)
  } finally {
    await running.close()
  }
})

test('plain node:http requests read and write what node:http answers, after the bridge served Express', async () => {
  const bridged = await startServer(bridgedApp(), { transport: 'http2' })
  await bridged.close()
  const app = express()
  app.get('/', (req, res) => {
    const proto = http.IncomingMessage.prototype
    const enumerated: string[] = []
    for (const key in req) if (key === 'setTimeout' || key === 'connection' || key === 'headers') enumerated.push(key)
    res.statusCode = 203
    res.json({
      setTimeout: req.setTimeout === proto.setTimeout,
      read: req._read === proto._read,
      writeHead: res.writeHead === http.ServerResponse.prototype.writeHead,
      connection: req.connection === req.socket,
      host: req.headers.host,
      enumerated: enumerated.sort(),
      expected: Object.keys(proto)
        .filter((k) => k === 'setTimeout' || k === 'connection' || k === 'headers')
        .sort(),
    })
  })
  const server = http.createServer(app).listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const { port } = server.address() as AddressInfo
    const [status, body] = await new Promise<[number, string]>((resolve, reject) => {
      http
        .get({ port, host: '127.0.0.1', path: '/', agent: false }, (r) => {
          let text = ''
          r.setEncoding('utf8').on('data', (d: string) => (text += d))
          r.on('end', () => resolve([r.statusCode!, text]))
        })
        .on('error', reject)
    })
    assert.equal(status, 203)
    const seen = JSON.parse(body) as Record<string, unknown>
    assert.deepEqual(seen, {
      setTimeout: true,
      read: true,
      writeHead: true,
      connection: true,
      host: `127.0.0.1:${port}`,
      enumerated: seen['expected'],
      expected: seen['expected'],
    })
  } finally {
    server.close()
  }
})

describe('requests and responses made with room for what Express adds (shaped-messages.ts)', () => {
  const EXPRESS_FIELDS = ['res', 'next', 'baseUrl', 'originalUrl', '_parsedUrl', 'params', 'route']

  for (const transport of ['spdy', 'http2'] as const) {
    test(`${transport}: a plain listener sees the fields, undefined, over HTTP/2 and HTTP/1.1; Express sets them as before`, async () => {
      const plain = await startServer(
        (req, res) => {
          const fields = Object.fromEntries(
            EXPRESS_FIELDS.map((k) => [k, Object.hasOwn(req, k) ? ((req as unknown as Record<string, unknown>)[k] ?? null) : 'absent']),
          )
          res.end(JSON.stringify({ fields, locals: Object.hasOwn(res, 'locals') ? ((res as unknown as { locals?: unknown }).locals ?? null) : 'absent' }))
        },
        { transport },
      )
      try {
        const { body } = await h2get(plain.url, '/x?y=1')
        // HTTP/1.1 on the same server: Node's own request and response, shaped the same way.
        const h1 = await new Promise<string>((resolve, reject) => {
          https
            .get({ port: plain.port, host: '127.0.0.1', path: '/x', rejectUnauthorized: false, agent: false }, (r) => {
              let text = ''
              r.setEncoding('utf8').on('data', (d: string) => (text += d))
              r.on('end', () => resolve(text))
            })
            .on('error', reject)
        })
        for (const text of [body.toString(), h1]) {
          const seen = JSON.parse(text) as { fields: Record<string, unknown>; locals: unknown }
          assert.deepEqual(seen.fields, Object.fromEntries(EXPRESS_FIELDS.map((k) => [k, null])))
          assert.equal(seen.locals, null)
        }
      } finally {
        await plain.close()
      }
      const app = express()
      const api = express.Router()
      api.get('/items/:id', (req, res) => {
        res.locals['seen'] = true
        res.json({
          baseUrl: req.baseUrl,
          originalUrl: req.originalUrl,
          params: req.params,
          route: req.route?.path,
          query: req.query,
          locals: res.locals['seen'],
          url: req.url,
        })
      })
      app.use('/api', api)
      const running = await startServer(app, { transport })
      try {
        const { body } = await h2get(running.url, '/api/items/7?q=a')
        assert.deepEqual(JSON.parse(body.toString()), {
          baseUrl: '/api',
          originalUrl: '/api/items/7?q=a',
          params: { id: '7' },
          route: '/items/:id',
          query: { q: 'a' },
          locals: true,
          url: '/items/7?q=a',
        })
      } finally {
        await running.close()
      }
    })
  }

  test("http2: serverOptions' own Http2ServerRequest / Http2ServerResponse classes are used instead", async () => {
    const http2 = await import('node:http2')
    class OwnRequest extends http2.Http2ServerRequest {
      own = 'request'
    }
    class OwnResponse extends http2.Http2ServerResponse {
      own = 'response'
    }
    const running = await startServer(
      (req, res) => res.end(`${(req as unknown as OwnRequest).own} ${(res as unknown as OwnResponse).own} ${Object.hasOwn(req, 'baseUrl')}`),
      { transport: 'http2', serverOptions: { Http2ServerRequest: OwnRequest, Http2ServerResponse: OwnResponse } as never },
    )
    try {
      const { body } = await h2get(running.url, '/')
      assert.equal(body.toString(), 'request response false')
    } finally {
      await running.close()
    }
  })
})
