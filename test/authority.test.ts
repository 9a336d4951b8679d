/**
 * A request whose Host header names another host than its :authority (RFC 9113 §8.3.1:
 * malformed) is refused with 400 on both transports, before the app (and any push) sees
 * it; a request whose two agree is served, and its pushes are rendered and promised for
 * that one host.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import express from 'express'
import { pushManifest } from '../index.js'
import { H2Client } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { FRAME, frames, RawH2Client, type Frame } from './helpers/raw-h2.js'

const require = createRequire(import.meta.url)

interface Decompressor {
  write(chunk: Buffer): void
  execute(): void
  read(): { name: string; value: string } | null
}
const hpack = require('hpack.js') as { decompressor: { create(options: { table: { maxSize: number } }): Decompressor } }

/** Every header block the server sent, decoded in order (one HPACK table per connection). */
function headerBlocks(received: readonly Frame[]): Array<{ type: string; streamId: number; promisedId?: number; headers: Record<string, string> }> {
  const decompressor = hpack.decompressor.create({ table: { maxSize: 4096 } })
  const out = []
  for (const f of received) {
    if (f.type !== FRAME.HEADERS && f.type !== FRAME.PUSH_PROMISE) continue
    let block = f.payload
    const pad = f.flags & 0x8 ? block[0]! : 0
    if (f.flags & 0x8) block = block.subarray(1)
    if (f.type === FRAME.PUSH_PROMISE) block = block.subarray(4)
    else if (f.flags & 0x20) block = block.subarray(5)
    block = block.subarray(0, block.length - pad)
    decompressor.write(block)
    decompressor.execute()
    const headers: Record<string, string> = {}
    for (let h = decompressor.read(); h !== null; h = decompressor.read()) headers[h.name] = h.value
    out.push({ type: f.name, streamId: f.streamId, ...(f.promisedId === undefined ? {} : { promisedId: f.promisedId }), headers })
  }
  return out
}

function testApp() {
  const app = express()
  app.use(pushManifest({ manifest: { '/push': { '/who': { type: 'fetch' } } }, watch: false }))
  app.get('/who', (req, res) => {
    res.type('text').send(`rendered for ${req.hostname}`)
  })
  app.get('/push', (req, res) => {
    res.type('text').send(`page for ${req.hostname}`)
  })
  return app
}

for (const transport of TRANSPORTS) {
  describe(`:authority and Host (${transport})`, () => {
    let running: Running
    before(async () => {
      running = await startServer(testApp(), { transport })
    })
    after(() => running.close())

    async function rawRequest(authority: string, extra: ReadonlyArray<readonly [string, string]>) {
      const client = await RawH2Client.connect(running.port)
      try {
        client.write(frames.request(1, '/push', { authority, headers: extra }))
        await client.until(
          () => client.finished(1) && client.of(FRAME.PUSH_PROMISE).every((p) => client.finished(p.promisedId!)),
          5000,
          'the response and its pushes',
        )
        return { blocks: headerBlocks(client.frames), client }
      } finally {
        await client.close()
      }
    }

    test('Host: b with :authority: a: 400 before the app, no PUSH_PROMISE', async () => {
      const { blocks } = await rawRequest('a', [['host', 'b']])
      assert.deepEqual(
        blocks.map((b) => [b.type, b.streamId, b.headers[':status']]),
        [['HEADERS', 1, '400']],
      )
      assert.equal(blocks[0]!.headers['content-type'], 'text/plain; charset=utf-8')
    })

    for (const [authority, host] of [
      ['a', undefined],
      ['a', 'a'],
      ['a', 'A'],
      ['A', 'a:443'],
    ] as const) {
      test(`:authority ${authority}${host === undefined ? ' alone' : ` with Host: ${host}`}: pushed and promised for ${authority}`, async () => {
        const { blocks, client } = await rawRequest(authority, host === undefined ? [] : [['host', host]])
        const promise = blocks.find((b) => b.type === 'PUSH_PROMISE')
        assert.ok(promise, JSON.stringify(blocks))
        assert.equal(promise.headers[':authority'], authority)
        assert.equal(promise.headers[':path'], '/who')
        const response = blocks.find((b) => b.type === 'HEADERS' && b.streamId === 1)
        assert.equal(response?.headers[':status'], '200')
        const body = (id: number) =>
          Buffer.concat(
            client
              .on(id)
              .filter((f) => f.type === FRAME.DATA)
              .map((f) => f.payload),
          ).toString()
        // req.hostname (what both bodies name) reads Host, which is now the :authority as sent.
        assert.equal(body(1), `page for ${authority}`)
        assert.equal(body(promise.promisedId!), `rendered for ${authority}`)
      })
    }

    test('node:http2 client with :authority a and Host b: 400, no push', async () => {
      const client = new H2Client(running.url)
      try {
        const exchange = await client.request('/push', { ':authority': 'a', host: 'b' })
        assert.equal(exchange.status, 400)
        assert.match(exchange.body.toString(), /Host header and :authority name different hosts/)
        assert.deepEqual(
          exchange.pushes.map((p) => p.path),
          [],
        )
      } finally {
        await client.close()
      }
    })
  })
}
