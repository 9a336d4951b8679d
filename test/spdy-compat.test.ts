/**
 * One test per symptom of stock spdy on Node 20-26 (see the README, "Why a
 * compatibility layer"). Each fails without the matching fix in src/compat/spdy.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { gunzipSync } from 'node:zlib'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import compression from 'compression'
import { H2Client, h2get } from './helpers/h2.js'
import { spawnDemo, startServer, startDemo, type ChildServer, type Running } from './helpers/server.js'
import { nghttp, requestStreamId, mostOpenPushedStreams, END_STREAM } from './helpers/nghttp.js'
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
    assert.equal(
      (await h2get(running.url, '/write-end/many')).body.toString(),
      'chunk0,chunk1,chunk2,chunk3,chunk4,chunk5,end',
    )
    assert.equal((await h2get(running.url, '/write-end/strings')).body.toString(), 'a-b-c')
  })

  test('a 1 MB body ends with END_STREAM, 20 nghttp runs out of 20', async () => {
    for (let run = 0; run < 20; run++) {
      const { frames } = await nghttp(`${running.url}/big`)
      const id = requestStreamId(frames)
      const data = frames.filter((f) => f.dir === 'recv' && f.type === 'DATA' && f.streamId === id)
      assert.equal(data.reduce((n, f) => n + f.length, 0), ONE_MB.length, `run ${run}: body length`)
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
      for (const f of frames) if (f.dir === 'recv' && f.type === 'DATA' && f.streamId % 2 === 0) bodies.set(f.streamId, (bodies.get(f.streamId) ?? 0) + f.length)
      assert.deepEqual([...bodies.values()], [3000, 3000, 3000, 3000, 3000, 3000], `run ${run}: six whole pushed bodies`)
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
      const results = await Promise.all(
        Array.from({ length: 150 }, (_, i) => client.request(paths[i % paths.length]!)),
      )
      for (const res of results) assert.equal(res.status, 200)
    } finally {
      await client.close()
    }
    assert.ok(demo.stdout().split('\n').filter((l) => l.startsWith('GET ')).length >= 150, 'requests were not logged')
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
    assert.ok(more.every((m) => m.ended), 'a held stream was reset instead of ended')
    await client.close()
    assert.doesNotMatch(demo.stderr(), /Warning|Error/)
  })
})
