/**
 * Push what the app names: a response's own `Link: rel=preload` header and its
 * `res.writeEarlyHints()` links, through the same engine as manifest pushes.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import express from 'express'
import { pushManifest, type PushEvent } from '../index.js'
import { H2Client } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { nghttp, requestStreamId } from './helpers/nghttp.js'

const SITE = fileURLToPath(new URL('./fixtures/site/', import.meta.url))

function linkApp(events: PushEvent[], options: { linkPush?: boolean } = {}) {
  const app = express()
  app.set('env', 'test')
  // An empty manifest: every push here comes from the app's own links.
  app.use(pushManifest({ manifest: {}, root: SITE, watch: false, onEvent: (e) => events.push(e), ...options }))
  app.get('/linked', (_req, res) => {
    res.set('Link', [
      '</css/app.css>; rel=preload; as=style',
      '</js/app.js>; rel=preload; as=script; nopush',
      '<https://cdn.example/x.js>; rel=preload; as=script',
    ])
    res.send('<!doctype html><title>linked</title>')
  })
  app.get('/linked-error', (_req, res) => {
    res.set('Link', '</css/app.css>; rel=preload; as=style')
    res.status(500).send('broken')
  })
  app.get('/thinks', (_req, res) => {
    res.writeEarlyHints({ link: '</css/app.css>; rel=preload; as=style' })
    setTimeout(() => res.send('<!doctype html><title>thought</title>'), 300)
  })
  app.use(express.static(SITE))
  return app
}

for (const transport of TRANSPORTS) {
  describe(`Link-driven push (${transport})`, () => {
    let running: Running
    const events: PushEvent[] = []
    let css: Buffer

    before(async () => {
      css = await readFile(join(SITE, 'css/app.css'))
      running = await startServer(linkApp(events), { transport })
    })
    after(() => running.close())

    test('a Link: rel=preload header is pushed, its PUSH_PROMISE before the response HEADERS; nopush and other origins are not', async () => {
      events.length = 0
      const { frames } = await nghttp(`${running.url}/linked`)
      const id = requestStreamId(frames)
      const onRequest = frames.filter((f) => f.dir === 'recv' && f.streamId === id && (f.type === 'PUSH_PROMISE' || f.type === 'HEADERS'))
      assert.deepEqual(
        onRequest.map((f) => f.type),
        ['PUSH_PROMISE', 'HEADERS'],
      )
      const client = new H2Client(running.url)
      try {
        const res = await client.request('/linked')
        assert.deepEqual(
          res.pushes.map((p) => p.path),
          ['/css/app.css'],
        )
        assert.deepEqual(res.pushes[0]!.body, css)
        assert.equal(res.pushes[0]!.headers['content-type'], 'text/css; charset=utf-8')
        assert.ok(events.some((e) => e.type === 'skipped' && e.url === '/js/app.js' && e.reason === 'nopush'))
        // Pushed once on this connection: the second response's Link is not pushed again.
        const again = await client.request('/linked')
        assert.equal(again.pushes.length, 0)
        assert.ok(events.some((e) => e.type === 'skipped' && e.url === '/css/app.css' && e.reason === 'cached'))
      } finally {
        await client.close()
      }
    })

    test('a response that is not a success gets no push from its Link header', async () => {
      const client = new H2Client(running.url)
      try {
        const res = await client.request('/linked-error')
        assert.equal(res.status, 500)
        assert.equal(res.pushes.length, 0)
      } finally {
        await client.close()
      }
    })

    test('res.writeEarlyHints(): its links are pushed during the think time, before the response; a push-refusing client gets the 103', async () => {
      const client = new H2Client(running.url)
      try {
        const res = await client.request('/thinks')
        assert.deepEqual(
          res.pushes.map((p) => p.path),
          ['/css/app.css'],
        )
        assert.ok(res.pushes[0]!.ended)
        assert.deepEqual(res.pushes[0]!.body, css)
        // The push went out during the 300 ms the route thought: before the response.
        assert.ok(res.events.indexOf('push:/css/app.css') < res.events.indexOf('response'), res.events.join(' '))
      } finally {
        await client.close()
      }
      const refusing = new H2Client(running.url, { enablePush: false })
      try {
        const res = await refusing.request('/thinks')
        assert.equal(res.pushes.length, 0)
        assert.deepEqual(
          res.informational.map((h) => [h[':status'], h['link']]),
          [[103, '</css/app.css>; rel=preload; as=style']],
        )
      } finally {
        await refusing.close()
      }
    })

    test('linkPush: false pushes nothing the app names', async () => {
      const off = await startServer(linkApp([], { linkPush: false }), { transport })
      const client = new H2Client(off.url)
      try {
        assert.equal((await client.request('/linked')).pushes.length, 0)
        assert.equal((await client.request('/thinks')).pushes.length, 0)
      } finally {
        await client.close()
        await off.close()
      }
    })
  })
}
