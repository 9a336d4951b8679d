/**
 * getPusher(res) and the Pusher API on spdy: when it answers, what a push sends,
 * coded rejections, and a client's reset of a pushed stream.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import https from 'node:https'
import http2 from 'node:http2'
import { once } from 'node:events'
import express from 'express'
import { getPusher, type PushOutcome } from '../index.js'
import { H2Client, h2get } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { settles } from './helpers/wait.js'

function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

const BIG = Buffer.alloc(4 * 1024 * 1024, 7)

for (const transport of TRANSPORTS)
  describe(`getPusher and Pusher.push (${transport})`, () => {
    let running: Running
    const seen: Record<string, unknown> = {}
    let bigOutcome = deferred<PushOutcome>()
    let manyClosed = deferred<void>()

    before(async () => {
      const app = express()
      app.get('/can-push', (_req, res) => {
        res.json({ pusher: getPusher(res) !== undefined })
      })
      app.get('/stream-body', async (_req, res) => {
        const pusher = getPusher(res)!
        const stream = await pusher.push('/streamed.txt')
        const outcome = stream.respond(200, { 'content-type': 'text/plain' }, Readable.from(['one ', 'two ', 'three']))
        res.end('parent')
        seen['streamed'] = await outcome
      })
      app.get('/respond-twice', async (_req, res) => {
        const pusher = getPusher(res)!
        const stream = await pusher.push('/once.txt')
        // Connection-specific headers are not HTTP/2 headers: dropped, whatever the transport.
        const first = stream.respond(
          200,
          { 'Content-Type': 'text/plain', Connection: 'keep-alive', 'Keep-Alive': 'timeout=5', 'Transfer-Encoding': 'chunked' },
          'once',
        )
        const second = stream.respond(200, { 'content-type': 'text/html' }, 'twice')
        res.end('parent')
        seen['twice'] = [await first, await second]
      })
      app.get('/bad-pushes', async (_req, res) => {
        const pusher = getPusher(res)!
        const errors: string[] = []
        for (const [path, options] of [
          ['relative.css', undefined],
          ['//other.example/x.css', undefined],
          ['/ok.css', { requestHeaders: { host: 'evil.example' } }],
          ['/ok.css', { requestHeaders: { 'content-length': '3' } }],
        ] as const) {
          await pusher.push(path, options).then(
            () => errors.push('accepted'),
            (err: { code: string }) => errors.push(err.code),
          )
        }
        res.end()
        await once(res, 'close')
        await new Promise((r) => setTimeout(r, 20))
        await pusher.push('/after-end.css').then(
          () => errors.push('accepted'),
          (err: { code: string }) => errors.push(err.code),
        )
        seen['errors'] = errors
      })
      app.get('/many', async (_req, res) => {
        res.once('close', () => manyClosed.resolve())
        const pusher = getPusher(res)!
        // 15 in a row, then 15 at once: neither may pile listeners up on the parent.
        for (let i = 0; i < 15; i++) {
          const stream = await pusher.push(`/many/${i}.txt`)
          await stream.respond(200, { 'content-type': 'text/plain' }, String(i))
        }
        const streams = await Promise.all(Array.from({ length: 15 }, (_, i) => pusher.push(`/many/${15 + i}.txt`)))
        streams.forEach((stream, i) => void stream.respond(200, { 'content-type': 'text/plain' }, String(15 + i)))
        res.end('parent')
      })
      app.get('/unanswered', async (_req, res) => {
        await getPusher(res)!.push('/never.css')
        res.end('parent')
      })
      app.get('/big-push', async (_req, res) => {
        const stream = await getPusher(res)!.push('/big.bin')
        bigOutcome.resolve(
          await stream.respond(200, { 'content-type': 'application/octet-stream' }, BIG).then((o) => {
            return o
          }),
        )
        res.end('parent')
      })
      running = await startServer(app, { transport })
    })
    after(() => running.close())

    test('answers a Pusher only to an HTTP/2 client that accepts push', async () => {
      assert.deepEqual(JSON.parse((await h2get(running.url, '/can-push')).body.toString()), { pusher: true })
      assert.deepEqual(JSON.parse((await h2get(running.url, '/can-push', { enablePush: false })).body.toString()), { pusher: false })
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(`${running.url}/can-push`, { rejectUnauthorized: false, agent: false }, (res) => {
            let data = ''
            res.on('data', (d) => (data += d)).on('end', () => resolve(data))
          })
          .on('error', reject)
      })
      assert.deepEqual(JSON.parse(body), { pusher: false })
    })

    test('a Readable body is streamed; the promised request copies user-agent and accept-encoding', async () => {
      const res = await h2get(running.url, '/stream-body', { headers: { 'user-agent': 'test-agent/1', 'accept-encoding': 'br' } })
      assert.equal(res.pushes.length, 1)
      const push = res.pushes[0]!
      assert.equal(push.body.toString(), 'one two three')
      assert.equal(push.requestHeaders['user-agent'], 'test-agent/1')
      assert.equal(push.requestHeaders['accept-encoding'], 'br')
      assert.equal(push.requestHeaders[':method'], 'GET')
      await settles(() => seen['streamed'] !== undefined, 'the route to record its outcome')
      assert.deepEqual(seen['streamed'], { status: 'sent', bytes: 13 })
    })

    test('a pushed response is answered once, without connection-specific headers', async () => {
      const res = await h2get(running.url, '/respond-twice')
      assert.equal(res.pushes.length, 1)
      const push = res.pushes[0]!
      assert.equal(push.body.toString(), 'once')
      assert.equal(push.headers['content-type'], 'text/plain')
      for (const name of ['connection', 'keep-alive', 'transfer-encoding']) assert.equal(push.headers[name], undefined, name)
      await settles(() => seen['twice'] !== undefined, 'the route to record its outcome')
      assert.deepEqual(seen['twice'], [
        { status: 'sent', bytes: 4 },
        { status: 'sent', bytes: 4 },
      ])
    })

    test('bad targets, forbidden headers and a closed parent are coded rejections', async () => {
      await h2get(running.url, '/bad-pushes')
      await settles(() => seen['errors'] !== undefined, 'the route to record its outcome')
      assert.deepEqual(seen['errors'], [
        'ERR_H2PUSH_INVALID_PUSH',
        'ERR_H2PUSH_INVALID_PUSH',
        'ERR_H2PUSH_INVALID_PUSH',
        'ERR_H2PUSH_INVALID_PUSH',
        'ERR_H2PUSH_STREAM_CLOSED',
      ])
    })

    test('many pushes on one held parent stream leave no listeners behind (no MaxListenersExceededWarning)', async () => {
      const warnings: Error[] = []
      const onWarning = (w: Error) => warnings.push(w)
      process.on('warning', onWarning)
      manyClosed = deferred<void>()
      try {
        const res = await h2get(running.url, '/many')
        assert.equal(res.pushes.length, 30)
        assert.deepEqual(
          res.pushes.map((p) => p.body.toString()),
          Array.from({ length: 30 }, (_, i) => String(i)),
        )
        // Every listener is added by the time the parent closes on the server; a warning is
        // emitted on the next tick after the listener that passes the limit.
        await manyClosed.promise
        await new Promise((r) => setTimeout(r, 50))
      } finally {
        process.off('warning', onWarning)
      }
      assert.deepEqual(
        warnings.map((w) => w.message),
        [],
      )
    })

    test('a promise the handler never answers is reset when the parent stream closes', async () => {
      const res = await h2get(running.url, '/unanswered')
      assert.equal(res.body.toString(), 'parent')
      assert.equal(res.pushes.length, 1)
      assert.equal(res.pushes[0]!.body.length, 0)
      assert.equal(res.pushes[0]!.rstCode, http2.constants.NGHTTP2_CANCEL)
    })

    test('a client RST_STREAM(CANCEL) of a pushed stream cancels that push only; the server carries on', async () => {
      bigOutcome = deferred<PushOutcome>()
      const session = http2.connect(running.url, { rejectUnauthorized: false })
      session.on('stream', (pushed) => {
        pushed.on('error', () => {})
        pushed.once('data', () => pushed.close(http2.constants.NGHTTP2_CANCEL))
      })
      const req = session.request({ ':path': '/big-push' })
      req.setEncoding('utf8')
      let body = ''
      req.on('data', (d: string) => (body += d))
      await once(req, 'end')
      assert.equal(body, 'parent')
      const outcome = await bigOutcome.promise
      assert.equal(outcome.status, 'cancelled')
      session.close()
      const client = new H2Client(running.url)
      assert.equal((await client.request('/can-push')).status, 200)
      await client.close()
    })
  })
