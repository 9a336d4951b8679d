/**
 * One test per symptom of stock spdy on Node 20-26 (see the README, "Why a
 * compatibility layer"). Each fails without the matching fix in src/compat/spdy.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { gunzipSync } from 'node:zlib'
import { setTimeout as sleep } from 'node:timers/promises'
import http, { type RequestListener } from 'node:http'
import https from 'node:https'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import type net from 'node:net'
import { once } from 'node:events'
import express from 'express'
import compression from 'compression'
import { H2Client, h2get } from './helpers/h2.js'
import { startServer, startWindowFillingPage, TRANSPORTS, type ChildServer, type Running } from './helpers/server.js'
import { spawnDemo, startDemo } from './helpers/demo.js'
import { nghttp, requestStreamId, mostOpenPushedStreams, END_STREAM } from './helpers/nghttp.js'
import { RawH2Client, FRAME, SETTING, frame, frames } from './helpers/raw-h2.js'
import { testCertificate } from './helpers/tls.js'
import { problems, settles } from './helpers/faults.js'
import { installSpdyCompat } from '../index.js'
import type { SpdyConnection, SpdyRequest } from '../src/compat/spdy/internals.js'

function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

const ONE_MB = Buffer.alloc(1024 * 1024, 'abcdefghijklmnopqrstuvwxyz')

describe('spdy compatibility layer (in-process server)', () => {
  let running: Running
  const finished = new Map<string, { finish: Promise<void>; endCallback: Promise<void> }>()
  let lastConnection: SpdyConnection | undefined

  before(async () => {
    const app = express()
    app.get('/headers', (_req, res) => {
      res.setHeader('x-one', '1')
      res.setHeader('set-cookie', ['a=1; Secure', 'b=2; Secure'])
      res.writeHead(201, { 'x-two': '2', 'content-type': 'text/plain' })
      res.end('created')
    })
    app.get('/json', (_req, res) => {
      res.json({ ok: true })
    })
    app.get('/finish/:id', (req, res) => {
      const finish = deferred()
      const endCallback = deferred()
      finished.set(req.params.id, { finish: finish.promise, endCallback: endCallback.promise })
      res.on('finish', () => finish.resolve())
      res.end('done', () => endCallback.resolve())
    })
    app.get('/write-end/buffers', (_req, res) => {
      res.write(Buffer.from('first,'))
      res.end(Buffer.from('last'))
    })
    app.get('/write-end/many', (_req, res) => {
      res.cork()
      for (let i = 0; i < 6; i++) res.write(Buffer.from(`chunk${i},`))
      res.uncork()
      res.end(Buffer.from('end'))
    })
    app.get('/write-end/strings', (_req, res) => {
      res.write('a-')
      res.write('b-')
      res.end('c')
    })
    app.get('/big', (_req, res) => {
      res.setHeader('content-type', 'application/octet-stream')
      res.end(ONE_MB)
    })
    const text = 'express-h2-push compresses '.repeat(200)
    app.get('/compressed', compression({ threshold: 0 }), (_req, res) => {
      res.type('text/plain').send(text)
    })
    app.get('/slow', (_req, res) => {
      setTimeout(() => res.end('slow'), 200)
    })
    app.get('/raw-push', (req, res) => {
      lastConnection = (req as SpdyRequest).spdyStream?.connection
      // spdy's own push API, with no check of the peer's ENABLE_PUSH.
      const push = (res as unknown as { push: (p: string, h: object) => NodeJS.WritableStream }).push('/pushed.txt', {
        request: { accept: '*/*' },
        response: { 'content-type': 'text/plain' },
      })
      push.end('pushed')
      res.end('parent')
    })
    app.get('/raw-push3', (_req, res) => {
      // spdy's own push API sends each PUSH_PROMISE and its response HEADERS together.
      for (const name of ['a', 'b', 'c']) {
        const push = (res as unknown as { push: (p: string, h: object) => NodeJS.WritableStream }).push(`/${name}.txt`, {
          request: { accept: '*/*' },
          response: { 'content-type': 'text/plain' },
        })
        push.on('error', () => {})
        push.end(name.repeat(3000))
      }
      res.end('parent')
    })
    running = await startServer(app)
  })
  after(() => running.close())

  test('response headers set with setHeader/writeHead reach the client (Node 24+ dropped them)', async () => {
    const res = await h2get(running.url, '/headers')
    assert.equal(res.status, 201)
    assert.equal(res.headers['x-one'], '1')
    assert.equal(res.headers['x-two'], '2')
    assert.equal(res.headers['content-type'], 'text/plain')
    assert.deepEqual(res.headers['set-cookie'], ['a=1; Secure', 'b=2; Secure'])
    assert.equal(res.body.toString(), 'created')
    const json = await h2get(running.url, '/json')
    assert.match(String(json.headers['content-type']), /^application\/json/)
    assert.equal(json.headers['content-length'], '11')
    assert.deepEqual(JSON.parse(json.body.toString()), { ok: true })
  })

  test('ETag gives 304 and compression sets content-encoding', async () => {
    const first = await h2get(running.url, '/json')
    assert.ok(first.headers['etag'])
    const second = await h2get(running.url, '/json', { headers: { 'if-none-match': String(first.headers['etag']) } })
    assert.equal(second.status, 304)
    const gz = await h2get(running.url, '/compressed', { headers: { 'accept-encoding': 'gzip' } })
    assert.equal(gz.headers['content-encoding'], 'gzip')
    assert.equal(gunzipSync(gz.body).toString(), 'express-h2-push compresses '.repeat(200))
  })

  test("res 'finish' fires and end(cb) calls back", async () => {
    const res = await h2get(running.url, '/finish/one')
    assert.equal(res.body.toString(), 'done')
    const seen = finished.get('one')
    assert.ok(seen)
    const timeout = sleep(2000).then(() => 'timeout')
    assert.equal(await Promise.race([seen.finish.then(() => 'finish'), timeout]), 'finish')
    assert.equal(await Promise.race([seen.endCallback.then(() => 'callback'), timeout]), 'callback')
  })

  test('write() then end() in one tick ends the stream with every chunk', async () => {
    assert.equal((await h2get(running.url, '/write-end/buffers')).body.toString(), 'first,last')
    assert.equal((await h2get(running.url, '/write-end/many')).body.toString(), 'chunk0,chunk1,chunk2,chunk3,chunk4,chunk5,end')
    assert.equal((await h2get(running.url, '/write-end/strings')).body.toString(), 'a-b-c')
  })

  test('a 1 MB body ends with END_STREAM, 20 nghttp runs out of 20', async () => {
    for (let run = 0; run < 20; run++) {
      const { frames } = await nghttp(`${running.url}/big`)
      const id = requestStreamId(frames)
      const data = frames.filter((f) => f.dir === 'recv' && f.type === 'DATA' && f.streamId === id)
      assert.equal(
        data.reduce((n, f) => n + f.length, 0),
        ONE_MB.length,
        `run ${run}: body length`,
      )
      assert.ok(data.at(-1)!.flags & END_STREAM, `run ${run}: no END_STREAM`)
      const rst = frames.find((f) => f.dir === 'recv' && f.type === 'RST_STREAM')
      assert.equal(rst, undefined, `run ${run}: server sent RST_STREAM ${rst?.errorCode}`)
    }
  })

  test("pushed streams stay within the client's SETTINGS_MAX_CONCURRENT_STREAMS, through spdy's own res.push too", async () => {
    // Stock spdy ignores the setting: libnghttp2 answers HEADERS for a pushed stream
    // over the limit with GOAWAY(PROTOCOL_ERROR), and every request on it is lost.
    for (let run = 0; run < 5; run++) {
      const { frames, stderr } = await nghttp(`${running.url}/raw-push3`, ['-m', '2', '--max-concurrent-streams=1'])
      assert.doesNotMatch(stderr, /not processed/, `run ${run}: ${stderr}`)
      assert.equal(mostOpenPushedStreams(frames), 1, `run ${run}`)
      const bodies = new Map<number, number>()
      for (const f of frames)
        if (f.dir === 'recv' && f.type === 'DATA' && f.streamId % 2 === 0) bodies.set(f.streamId, (bodies.get(f.streamId) ?? 0) + f.length)
      assert.deepEqual([...bodies.values()], [3000, 3000, 3000, 3000, 3000, 3000], `run ${run}: six whole pushed bodies`)
    }
  })

  test("res.push() then res.end() in one tick: every PUSH_PROMISE is on the wire before the response's HEADERS (spdy writes promises a tick late)", async () => {
    for (let run = 0; run < 5; run++) {
      const { frames } = await nghttp(`${running.url}/raw-push3`)
      const recv = frames.filter(
        (f) => f.dir === 'recv' && f.streamId === requestStreamId(frames) && (f.type === 'PUSH_PROMISE' || f.type === 'HEADERS' || f.type === 'DATA'),
      )
      assert.deepEqual(recv.map((f) => f.type).slice(0, 5), ['PUSH_PROMISE', 'PUSH_PROMISE', 'PUSH_PROMISE', 'HEADERS', 'DATA'], `run ${run}`)
    }
  })

  test('a push refused by the peer is released, and the peer GOAWAY does not crash the server', async () => {
    const client = new H2Client(running.url, { enablePush: false })
    const res = await client.request('/raw-push')
    assert.equal(res.body.toString(), 'parent')
    assert.equal(res.pushes.length, 0)
    await sleep(50)
    const state = lastConnection!._spdyState
    assert.deepEqual(Object.keys(state.stream.map), [], 'streams left in the connection map')
    assert.equal(state.stream.count, 0)
    await client.close() // sends GOAWAY
    await sleep(100)
    assert.equal((await h2get(running.url, '/json')).status, 200)
  })

  test("a client's GOAWAY lets the requests it already sent finish", async () => {
    const client = new H2Client(running.url)
    const slow = client.open('/slow')
    await sleep(50)
    client.session.close() // GOAWAY with last-stream-id 0: it covers server-initiated streams only
    await slow.closed
    assert.equal(slow.ended, true, `reset with code ${slow.stream.rstCode}`)
    assert.equal(slow.body().toString(), 'slow')
  })

  test('a later SETTINGS frame without ENABLE_PUSH does not re-enable push', async () => {
    const client = new H2Client(running.url, { enablePush: false })
    try {
      await client.request('/json')
      client.session.settings({ maxConcurrentStreams: 50 })
      await sleep(100)
      const res = await client.request('/raw-push')
      assert.equal(res.status, 200)
      assert.equal(res.pushes.length, 0)
      assert.equal(client.session.destroyed, false, 'the client saw a PUSH_PROMISE it had disabled')
      assert.equal((await client.request('/json')).status, 200)
    } finally {
      await client.close()
    }
  })
})

describe("held streams outlive Node's request timeouts", () => {
  let demo: Running
  before(async () => {
    demo = await startDemo({}, { serverOptions: { connectionsCheckingInterval: 100 } })
    demo.server.headersTimeout = 400
    demo.server.requestTimeout = 800
  })
  after(() => demo.close())

  test('GET /header stays open past headersTimeout and requestTimeout', async () => {
    const client = new H2Client(demo.url)
    try {
      const r = client.open('/header')
      assert.equal((await r.response)[':status'], 204)
      await sleep(2000)
      assert.equal(r.stream.closed, false, `stream closed (rstCode ${r.stream.rstCode})`)
      assert.equal(r.ended, false)
    } finally {
      await client.close()
    }
  })
})

describe('the demo as users run it (stdout piped, one log line per request)', () => {
  let demo: ChildServer
  before(async () => {
    demo = await spawnDemo({ AUTOPUSH_INTERVAL_MS: '100' })
  })
  after(async () => {
    await demo.stop('SIGKILL')
  })

  test('node-spdy #380: 150 responses with no RST_STREAM while every request is logged to a pipe', async () => {
    const client = new H2Client(demo.url)
    try {
      const paths = ['/crt', '/push', '/']
      const results = await Promise.all(Array.from({ length: 150 }, (_, i) => client.request(paths[i % paths.length]!)))
      for (const res of results) assert.equal(res.status, 200)
    } finally {
      await client.close()
    }
    assert.ok(
      demo
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('GET ')).length >= 150,
      'requests were not logged',
    )
  })

  test('no deprecation or MaxListeners warning or error is printed, and SIGTERM with 24 held streams exits 0 within 5 s', async () => {
    const client = new H2Client(demo.url)
    const held = client.open('/header')
    const auto = client.open('/autoPush')
    // More held streams than EventTarget's default of 10 listeners per signal.
    const more = Array.from({ length: 22 }, (_, i) => client.open(i % 2 ? '/header' : '/autoPush'))
    await Promise.all([held.response, auto.response, ...more.map((m) => m.response)])
    await sleep(250)
    const { code, ms } = await demo.stop('SIGTERM')
    assert.equal(code, 0)
    assert.ok(ms < 5000, `took ${ms} ms`)
    await Promise.all([held.closed, auto.closed])
    assert.equal(held.ended, true, 'held stream was reset instead of ended')
    assert.equal(auto.ended, true, 'autoPush stream was reset instead of ended')
    await Promise.all(more.map((m) => m.closed))
    assert.ok(
      more.every((m) => m.ended),
      'a held stream was reset instead of ended',
    )
    await client.close()
    assert.doesNotMatch(demo.stderr(), /Warning|Error/)
  })
})

/** A spdy server or agent made with the layer's own spdy module, as apps that use spdy directly do. */
const spdyModule = installSpdyCompat() as unknown as {
  createServer(options: object, app: RequestListener): http.Server
  createAgent(options: object): http.Agent & { close(callback: () => void): void }
}

async function listening<S extends net.Server>(server: S): Promise<S & { port: number }> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return Object.assign(server, { port: (server.address() as AddressInfo).port })
}

/** The server's open TCP connections, counted as they open and close. */
function openConnections(server: net.Server): () => number {
  let open = 0
  server.on('connection', (socket: net.Socket) => {
    open++
    socket.once('close', () => open--)
  })
  return () => open
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

describe("spdy's stack allocates no deprecated Buffer() (each one costs a stack capture for Node's DEP0005 check)", () => {
  test('under --pending-deprecation (which warns even inside node_modules), pushes, a split frame and empty frames print no DEP0005', async () => {
    const demo = await spawnDemo({ NODE_OPTIONS: '--pending-deprecation' })
    try {
      // Written frames and a request (wbuf, http-deceiver), as every page load does.
      for (let i = 0; i < 3; i++) {
        const client = new H2Client(demo.url)
        assert.equal((await client.request('/push')).pushes.length, 1)
        await client.close()
      }
      // Read frames: a SETTINGS ACK (empty payload) and a HEADERS frame split across two reads (obuf).
      const raw = await RawH2Client.connect(Number(new URL(demo.url).port))
      await raw.until((f) => f.some((x) => x.type === FRAME.SETTINGS), 5000, "the server's SETTINGS")
      raw.write(frames.settingsAck())
      const request = frames.request(1, '/crt')
      raw.write(request.subarray(0, 20))
      await sleep(50)
      raw.write(request.subarray(20))
      assert.ok(await raw.until(() => raw.finished(1), 5000, 'the /crt response'))
      await raw.close()
    } finally {
      await demo.stop('SIGTERM')
    }
    assert.doesNotMatch(demo.stderr(), /DEP0005|Buffer\(\) is deprecated/)
  })
})

describe('a plain (h2c) spdy server, as behind a TLS-terminating load balancer', () => {
  let server: http.Server & { port: number }
  let url: string
  before(async () => {
    const app = express()
    app.get('/write-end', (_req, res) => {
      res.setHeader('x-one', '1')
      res.write(Buffer.from('first,'))
      res.end(Buffer.from('last'))
    })
    app.get('/write-end/many', (_req, res) => {
      res.cork()
      for (let i = 0; i < 4; i++) res.write(Buffer.from(`chunk${i},`))
      res.uncork()
      res.end(Buffer.from('end'))
    })
    app.post('/echo', express.json(), (req, res) => {
      res.status(201).json(req.body)
    })
    server = await listening(spdyModule.createServer({ spdy: { plain: true } }, app))
    url = `http://127.0.0.1:${server.port}`
  })
  after(() => closeServer(server))

  test('responses reach the client with their headers and every chunk, and end (Node 24+ crashed on the first write)', async () => {
    const before = problems.length
    const res = await h2get(url, '/write-end')
    assert.equal(res.status, 200)
    assert.equal(res.headers['x-one'], '1')
    assert.equal(res.body.toString(), 'first,last')
    assert.equal((await h2get(url, '/write-end/many')).body.toString(), 'chunk0,chunk1,chunk2,chunk3,end')
    assert.deepEqual(problems.slice(before), [])
  })

  test('a request body of unknown length reaches express.json()', async () => {
    const client = new H2Client(url)
    try {
      const r = client.open('/echo', { ':method': 'POST', 'content-type': 'application/json' })
      r.stream.end(JSON.stringify({ over: 'h2c' }))
      assert.equal((await r.response)[':status'], 201)
      await r.closed
      assert.deepEqual(JSON.parse(r.body().toString()), { over: 'h2c' })
    } finally {
      await client.close()
    }
  })
})

describe("spdy's client (spdy.createAgent)", () => {
  let tlsServer: http2.Http2SecureServer & { port: number }
  let plainServer: http2.Http2Server & { port: number }
  const warnings: string[] = []
  const onWarning = (w: Error & { code?: string }): void => void warnings.push(`${w.code ?? w.name}: ${w.message}`)

  // node:http2 servers as the reference peer: they echo the request's `a` header and body.
  function echo(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'x-echo-a': String(headers['a']), 'x-method': String(headers[':method']) })
      stream.end(Buffer.concat(chunks).toString() || 'okay')
    })
  }

  before(async () => {
    const tls = await testCertificate()
    tlsServer = await listening(http2.createSecureServer({ ...tls }).on('stream', echo))
    plainServer = await listening(http2.createServer().on('stream', echo))
    process.on('warning', onWarning)
  })
  after(async () => {
    process.off('warning', onWarning)
    await Promise.all([closeServer(tlsServer), closeServer(plainServer)])
  })

  for (const plain of [false, true]) {
    test(`${plain ? 'plain (h2c)' : 'TLS'} agent: request headers and body go out, response headers come back, close() tears down cleanly`, async () => {
      const before = problems.length
      const agent = spdyModule.createAgent(
        plain
          ? { host: '127.0.0.1', port: plainServer.port, spdy: { plain: true, protocol: 'h2', protocols: ['h2'] } }
          : { host: '127.0.0.1', servername: 'localhost', port: tlsServer.port, rejectUnauthorized: false, spdy: { protocols: ['h2'] } },
      )
      const request = (plain ? http : https).request
      const send = (method: string, body?: string) =>
        new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
          const req = request({ agent, method, path: '/x', headers: { a: 'b' } }, (res) => {
            let text = ''
            res.setEncoding('utf8').on('data', (d: string) => (text += d))
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
          })
          req.on('error', reject)
          req.end(body)
        })
      try {
        const get = await send('GET')
        assert.equal(get.status, 200)
        assert.equal(get.headers['x-echo-a'], 'b', 'the request went out without its headers')
        assert.equal(get.body, 'okay')
        const post = await send('POST', 'post body')
        assert.equal(post.headers['x-method'], 'POST')
        assert.equal(post.body, 'post body')
      } finally {
        await new Promise<void>((resolve) => agent.close(resolve))
      }
      await sleep(50)
      assert.deepEqual(problems.slice(before), [], 'uncaught errors')
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('DEP0066')),
        [],
      )
    })
  }
})

describe('the request the app sees holds the headers the client sent, and no other', () => {
  for (const transport of TRANSPORTS) {
    test(`${transport}: a GET whose HEADERS lack END_STREAM shows no transfer-encoding; a body of unknown length still reaches express.json()`, async () => {
      const seen: Array<{ keys: string[]; raw: string[]; json: string }> = []
      const app = express()
      app.use((req, _res, next) => {
        seen.push({
          keys: Object.keys(req.headers),
          raw: req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()),
          json: JSON.stringify(req.headers),
        })
        next()
      })
      app.get('/get', (req, res) => {
        req.resume()
        req.on('end', () => res.json({ ok: true }))
      })
      app.post('/echo', express.json(), (req, res) => {
        res.json({ body: req.body as unknown })
      })
      const running = await startServer(app, { transport })
      const client = await RawH2Client.connect(running.port)
      try {
        client.write(frames.request(1, '/get', { endStream: false, headers: [['a', 'b']] }))
        await client.until((f) => f.some((x) => x.type === FRAME.SETTINGS))
        client.write(frame(FRAME.DATA, END_STREAM, 1))
        client.write(
          frames.request(3, '/echo', { method: 'POST', endStream: false, headers: [['content-type', 'application/json']] }),
          frame(FRAME.DATA, END_STREAM, 3, Buffer.from('{"sent":"no length"}')),
        )
        await client.until((_f) => client.finished(1) && client.finished(3), 5000, 'both responses')
        const body3 = Buffer.concat(
          client
            .on(3)
            .filter((f) => f.type === FRAME.DATA)
            .map((f) => f.payload),
        ).toString()
        assert.deepEqual(JSON.parse(body3), { body: { sent: 'no length' } })
        assert.equal(seen.length, 2)
        for (const { keys, raw, json } of seen) {
          assert.ok(!keys.includes('transfer-encoding'), `Object.keys(req.headers): ${keys.join(', ')}`)
          assert.ok(!raw.includes('transfer-encoding'), `rawHeaders: ${raw.join(', ')}`)
          assert.doesNotMatch(json, /transfer-encoding/)
        }
        assert.ok(seen[0]!.keys.includes('a'))
      } finally {
        await client.close()
        await running.close()
      }
    })
  }
})

describe('a plain (h2c) spdy server lets go of its connections', () => {
  test('after responses and a client that closes, no connection is left open and close() completes', async () => {
    const app = express()
    app.get('/write-end', (_req, res) => {
      res.write(Buffer.from('first,'))
      res.end(Buffer.from('last'))
    })
    const server = await listening(spdyModule.createServer({ spdy: { plain: true } }, app))
    const open = openConnections(server)
    const url = `http://127.0.0.1:${server.port}`
    const client = new H2Client(url)
    try {
      const results = await Promise.all([client.request('/write-end', {}, 3000), client.request('/write-end', {}, 3000)])
      for (const r of results) assert.equal(r.body.toString(), 'first,last')
    } finally {
      await client.close()
    }
    await settles(() => open() === 0, 'the server to close the connection')
    await closeServer(server)
  })
})

describe("an empty DATA frame spends no window: END_STREAM does not wait for the client's WINDOW_UPDATE", () => {
  test('pushes that spend the window: every response whose body is on the wire has its END_STREAM, before any WINDOW_UPDATE', async () => {
    const running = await startWindowFillingPage('spdy')
    const client = await RawH2Client.connect(running.port)
    try {
      const data = (id: number) => client.dataBytes(id)
      client.write(frames.request(1, '/page.html'))
      await client.until(
        (f) => data(1) === 1000 && f.filter((x) => x.type === FRAME.HEADERS && x.streamId % 2 === 0).length === 8,
        5000,
        'the page and 8 pushes answered',
      )
      // The client never sends WINDOW_UPDATE: what can go out has gone out once the server is quiet.
      await client.stalled()
      const sizes = new Map<number, number>([[1, 1000], ...client.of(FRAME.PUSH_PROMISE).map((f) => [f.promisedId!, 10 * 1024] as [number, number])])
      const complete = [...sizes].filter(([id, size]) => data(id) === size).map(([id]) => id)
      assert.ok(complete.length >= 4, `${complete.length} responses wholly sent within the window`)
      assert.deepEqual(
        complete.filter((id) => !client.on(id).some((f) => f.endStream)),
        [],
        'responses whose every byte is on the wire, still without END_STREAM',
      )
    } finally {
      await client.close()
      await running.close()
    }
  })
})

describe("DATA never passes the client's flow-control window (RFC 9113 §6.9.1)", () => {
  test("a stream's window of 1000 bytes, then WINDOW_UPDATEs of 500 and 3000: the body goes out within each", async () => {
    const app = express()
    app.get('/big', (_req, res) => {
      res.type('text').send('b'.repeat(10_000))
    })
    const running = await startServer(app, { transport: 'spdy' })
    const client = await RawH2Client.connect(running.port, { settings: { [SETTING.INITIAL_WINDOW_SIZE]: 1000 } })
    try {
      const data = () => client.dataBytes(1)
      client.write(frames.request(1, '/big'))
      await client.until(() => data() > 0, 5000, 'the first DATA')
      assert.equal(await client.stalled(), 1000)
      client.write(frames.windowUpdate(1, 500))
      assert.ok((await client.stalled()) <= 1500, `${data()} bytes on a window of 1500`)
      client.write(frames.windowUpdate(1, 3000))
      assert.equal(await client.stalled(), 4500)
      client.write(frames.windowUpdate(1, 10_000))
      await client.until(() => client.finished(1), 5000, 'the response to end')
      assert.equal(data(), 10_000)
    } finally {
      await client.close()
      await running.close()
    }
  })
})

describe('TLS records end where HTTP/2 frames end', () => {
  test('a page and 8 pushes: every SSL_write ends at a frame boundary, and is one frame or at most 16 KB', async () => {
    const running = await startWindowFillingPage('spdy')
    // What the server hands to OpenSSL on the connection: one SSL_write per handle write.
    const writes: number[] = []
    const plaintext: Buffer[] = []
    running.server.prependListener('secureConnection', (socket: net.Socket) => {
      const handle = (socket as net.Socket & { _handle: Record<string, (...args: unknown[]) => unknown> })._handle
      for (const method of ['writeBuffer', 'writev'] as const) {
        const original = handle[method]!
        handle[method] = function recordWrite(this: unknown, req: unknown, data: unknown, allBuffers?: unknown) {
          const buffers =
            method === 'writeBuffer'
              ? [data as Buffer]
              : allBuffers
                ? (data as Buffer[])
                : (data as unknown[]).filter((_, i) => i % 2 === 0).map((chunk) => Buffer.from(chunk as Buffer))
          const length = buffers.reduce((sum, buffer) => sum + buffer.length, 0)
          if (length > 0) {
            writes.push(length)
            plaintext.push(...buffers)
          }
          return original.call(this, req, data, allBuffers)
        }
      }
    })
    const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 1, [SETTING.INITIAL_WINDOW_SIZE]: 1 << 20 } })
    try {
      client.write(Buffer.concat([frames.windowUpdate(0, 1 << 20), frames.request(1, '/page.html')]))
      await client.until(
        () => client.finished(1) && client.of(FRAME.PUSH_PROMISE).every((f) => client.finished(f.promisedId!)),
        5000,
        'the page and its pushes to end',
      )
      await client.stalled()
      assert.equal(client.dataBytes(), 1000 + 8 * 10 * 1024)
      const bytes = Buffer.concat(plaintext)
      const ends = new Set<number>()
      for (let at = 0; at < bytes.length; at += 9 + bytes.readUIntBE(at, 3)) ends.add(at + 9 + bytes.readUIntBE(at, 3))
      assert.ok(ends.has(bytes.length), 'what was written is whole frames')
      let at = 0
      const cut: string[] = []
      for (const length of writes) {
        const frameCount = [...ends].filter((end) => end > at && end <= at + length).length
        if (!ends.has(at + length)) cut.push(`${length} bytes at ${at} end mid-frame`)
        else if (length > 16384 && frameCount > 1) cut.push(`${length} bytes at ${at}: ${frameCount} frames in more than one record`)
        at += length
      }
      assert.deepEqual(cut, [], `${writes.length} writes`)
      assert.ok(writes.length >= 9, `${writes.length} writes for 9 responses`)
    } finally {
      await client.close()
      await running.close()
    }
  })
})
