/**
 * spdy batches the writes of each event-loop turn on a connection (src/compat/spdy/batched-writes.ts):
 * the socket is corked at the turn's first write and uncorked at its end. A 103 Early Hints is the
 * exception: the client acts on it as soon as it arrives, so the middleware's 103 is handed to the TLS
 * socket before the rest of the turn runs (the route, other connections' I/O), not held in the cork.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import express from 'express'
import { pushManifest } from '../index.js'
import { h2get } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'

for (const transport of TRANSPORTS) {
  describe(`the 103 leaves before the route runs (${transport})`, () => {
    let running: Running
    const sockets: Socket[] = []
    let corked: number | undefined
    before(async () => {
      const app = express()
      app.use(pushManifest({ manifest: { '/page': { '/a.css': { type: 'style' } } }, watch: false }))
      app.get('/page', (_req, res) => {
        // Whether the connection's socket still holds its writes back when the route runs (the 103 in them).
        corked = sockets.at(-1)!.writableCorked
        res.type('html').send('<h1>page</h1>')
      })
      app.get('/own', async (_req, res) => {
        // A route's own 103, then the rest of its turn: a few ticks later (spdy writes its frames on a
        // tick), but before the turn ends, the socket must have let it go.
        res.writeEarlyHints({ link: '</a.css>; rel=preload; as=style' })
        for (let i = 0; i < 5; i++) await new Promise((r) => process.nextTick(r))
        corked = sockets.at(-1)!.writableCorked
        res.type('html').send('<h1>own</h1>')
      })
      app.get('/a.css', (_req, res) => {
        res.type('css').send('a {}')
      })
      running = await startServer(app, { transport })
      running.server.on('secureConnection', (socket: Socket) => sockets.push(socket))
    })
    after(() => running.close())

    test('a client with push disabled: the 103 is not corked behind the rest of the turn', async () => {
      const res = await h2get(running.url, '/page', { enablePush: false })
      assert.equal(res.informational[0]?.[':status'], 103)
      assert.equal(res.body.toString(), '<h1>page</h1>')
      assert.equal(corked, 0, 'the 103 was handed to the TLS socket before the route ran')
    })

    test("a route's own writeEarlyHints: the 103 leaves before the rest of the route's turn", async () => {
      corked = undefined
      const res = await h2get(running.url, '/own', { enablePush: false })
      assert.equal(res.informational[0]?.[':status'], 103)
      assert.equal(res.body.toString(), '<h1>own</h1>')
      assert.equal(corked, 0, "the 103 was handed to the TLS socket within the route's turn")
    })
  })
}
