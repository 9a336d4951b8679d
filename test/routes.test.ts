/**
 * The four demo routes over real HTTP/2 (node:http2 client, nghttp) and curl.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { H2Client, h2get } from './helpers/h2.js'
import { heldStatusOn, TRANSPORTS, type Running } from './helpers/server.js'
import { startDemo } from './helpers/demo.js'
import { nghttp, requestStreamId, END_STREAM } from './helpers/nghttp.js'

const HELMET_HEADERS = ['strict-transport-security', 'x-content-type-options', 'content-security-policy', 'x-frame-options']

function timerCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
}

async function waitFor(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

for (const transport of TRANSPORTS)
  describe(`demo routes over HTTP/2 (${transport})`, () => {
    let demo: Running & { certificate: string }
    before(async () => {
      demo = await startDemo({ autoPushIntervalMs: 150 }, { transport })
    })
    after(() => demo.close())

    test('GET /crt serves the certificate with type, length, etag, cache-control and helmet headers', async () => {
      const res = await h2get(demo.url, '/crt')
      assert.equal(res.status, 200)
      assert.equal(res.body.toString(), demo.certificate)
      assert.equal(res.headers['content-type'], 'application/x-pem-file')
      assert.equal(res.headers['content-length'], String(Buffer.byteLength(demo.certificate)))
      assert.match(String(res.headers['etag']), /^"[^"]+"$/)
      assert.equal(res.headers['cache-control'], 'public, max-age=3600')
      for (const name of HELMET_HEADERS) assert.ok(res.headers[name], `missing ${name}`)
      assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains')
    })

    test('GET /crt with the ETag answers 304 with no body', async () => {
      const first = await h2get(demo.url, '/crt')
      const again = await h2get(demo.url, '/crt', { headers: { 'if-none-match': String(first.headers['etag']) } })
      assert.equal(again.status, 304)
      assert.equal(again.body.length, 0)
    })

    test(`GET /header: ${heldStatusOn(transport)} with X-custom-header at once, stream held open, released when the client leaves`, async () => {
      const client = new H2Client(demo.url)
      try {
        const r = client.open('/header')
        const headers = await r.response
        assert.equal(headers[':status'], heldStatusOn(transport))
        assert.equal(headers['x-custom-header'], 'custom header')
        for (const name of HELMET_HEADERS) assert.ok(headers[name], `missing ${name}`)
        await sleep(1000)
        assert.equal(r.ended, false, 'END_STREAM arrived: the stream was not held open')
        assert.equal(r.stream.closed, false)
        r.stream.close()
        await r.closed
      } finally {
        await client.close()
      }
      // The server keeps serving on a new connection after the client left.
      assert.equal((await h2get(demo.url, '/crt')).status, 200)
    })

    test('GET /push (push accepted): /crt is pushed before the response, same body and headers as GET /crt', async () => {
      const res = await h2get(demo.url, '/push')
      assert.equal(res.status, 200)
      assert.equal(res.headers['link'], undefined)
      assert.equal(res.pushes.length, 1)
      const [pushed] = res.pushes
      assert.equal(pushed!.path, '/crt')
      assert.equal(pushed!.ended, true)
      assert.equal(pushed!.body.toString(), demo.certificate)
      assert.equal(pushed!.headers[':status'], 200)
      assert.equal(pushed!.headers['content-type'], 'application/x-pem-file')
      assert.ok(pushed!.headers['etag'])
      for (const name of HELMET_HEADERS) assert.ok(pushed!.headers[name], `push lacks ${name}`)
      assert.equal(pushed!.requestHeaders[':authority'], `127.0.0.1:${demo.port}`)
      assert.deepEqual(res.events.slice(0, 2), ['push:/crt', 'response'])
    })

    test('GET /push (client refuses push): 200 with Link preload, no push', async () => {
      const res = await h2get(demo.url, '/push', { enablePush: false })
      assert.equal(res.status, 200)
      assert.equal(res.pushes.length, 0)
      assert.match(String(res.headers['link']), /^<\/crt>; rel=preload/)
    })

    test('nghttp -nv /push: PUSH_PROMISE precedes the parent HEADERS; the pushed body is /crt', async () => {
      const { frames } = await nghttp(`${demo.url}/push`)
      const id = requestStreamId(frames)
      const promise = frames.findIndex((f) => f.dir === 'recv' && f.type === 'PUSH_PROMISE' && f.streamId === id)
      const parentHeaders = frames.findIndex((f) => f.dir === 'recv' && f.type === 'HEADERS' && f.streamId === id)
      assert.ok(promise >= 0, 'no PUSH_PROMISE')
      assert.ok(parentHeaders > promise, `parent HEADERS (#${parentHeaders}) before PUSH_PROMISE (#${promise})`)
      const promisedId = frames[promise]!.promisedId
      assert.equal(promisedId, 2)
      const pushedData = frames.filter((f) => f.dir === 'recv' && f.type === 'DATA' && f.streamId === promisedId)
      assert.equal(
        pushedData.reduce((n, f) => n + f.length, 0),
        Buffer.byteLength(demo.certificate),
      )
      assert.ok(pushedData.some((f) => f.flags & END_STREAM))
      assert.ok(!frames.some((f) => f.dir === 'recv' && f.type === 'RST_STREAM'))
    })

    test('curl --http2 (refuses push): /push answers 103 then 200, both with the Link header', async () => {
      const { stdout } = await promisify(execFile)('curl', ['-sk', '--http2', '-D', '-', '-o', '/dev/null', `${demo.url}/push`])
      const [early, final] = stdout.split(/\r?\n\r?\n/)
      assert.match(early!, /^HTTP\/2 103/)
      assert.match(early!, /^link: <\/crt>; rel=preload; as=fetch\r?$/m)
      assert.match(final!, /^HTTP\/2 200/)
      assert.match(final!, /^link: <\/crt>; rel=preload; as=fetch\r?$/m)
    })

    test(`GET /autoPush: ${heldStatusOn(transport)} held open, /crt pushed on every tick (ids 2, 4, ...), timer cleared when the client leaves`, async () => {
      const timersBefore = timerCount()
      const client = new H2Client(demo.url)
      try {
        const r = client.open('/autoPush')
        const headers = await r.response
        assert.equal(headers[':status'], heldStatusOn(transport))
        assert.equal(headers['x-custom-header'], 'custom header')
        await waitFor(() => client.pushes.filter((p) => p.ended).length >= 2, '2 pushes')
        assert.deepEqual(
          client.pushes.slice(0, 2).map((p) => p.id),
          [2, 4],
        )
        for (const p of client.pushes.filter((p) => p.ended)) assert.equal(p.body.toString(), demo.certificate)
        assert.equal(r.ended, false)
        assert.ok(timerCount() > timersBefore, 'the route holds a timer while the client is there')
        r.stream.close()
        await r.closed
      } finally {
        await client.close()
      }
      await waitFor(() => timerCount() <= timersBefore, 'the autoPush timer to be cleared')
    })
  })
