/**
 * The spdy compatibility layer's cost fixes (issue 24: spdy at node:http2's cost) leave
 * behaviour as it was: real servers on port 0 over TLS, real clients.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import util from 'node:util'
import http2 from 'node:http2'
import { once } from 'node:events'
import express from 'express'
import type net from 'node:net'
import { startServer, ROOT } from './helpers/server.js'
import { installSpdyCompat } from '../index.js'

const require = createRequire(import.meta.url)

/** POST /echo with a body in `parts` DATA frames; the response is the body back, written in 64 chunks. */
async function echo(url: string, parts: readonly string[]): Promise<{ status: number; body: string }> {
  const session = http2.connect(url, { rejectUnauthorized: false })
  session.on('error', () => {})
  try {
    const stream = session.request({ ':method': 'POST', ':path': '/echo' })
    for (const part of parts) stream.write(part)
    stream.end()
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
    let body = ''
    stream.setEncoding('utf8')
    for await (const chunk of stream) body += chunk
    return { status: Number(headers[':status']), body }
  } finally {
    session.close()
  }
}

function echoApp() {
  const app = express()
  app.post('/echo', (req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => {
      res.type('text/plain')
      const size = Math.ceil(body.length / 64)
      for (let i = 0; i < 64; i++) res.write(body.slice(i * size, (i + 1) * size))
      res.end()
    })
  })
  return app
}

describe("spdy's streams log nothing unless NODE_DEBUG asks (quiet-debuglog.ts)", () => {
  test('installing the layer puts util.debuglog back, and request and response bodies of many chunks go through as before', async () => {
    const debuglog = util.debuglog
    installSpdyCompat()
    assert.equal(util.debuglog, debuglog)
    const running = await startServer(echoApp())
    try {
      const parts = Array.from({ length: 40 }, (_, i) => `part ${i} `.repeat(50))
      for (let round = 0; round < 3; round++) {
        const { status, body } = await echo(running.url, parts)
        assert.equal(status, 200)
        assert.equal(body, parts.join(''))
      }
    } finally {
      await running.close()
    }
  })

  test("under NODE_DEBUG=stream, spdy's readable-stream still logs through Node's logger", async () => {
    const transportPath = createRequire(require.resolve('spdy')).resolve('spdy-transport')
    // Only readable-stream's own streams: no stream of Node's is created before the read.
    const script = `
      import { createRequire } from 'node:module'
      import { installSpdyCompat } from './index.ts'
      installSpdyCompat()
      const { Readable } = createRequire(${JSON.stringify(transportPath)})('readable-stream')
      const readable = new Readable({ read() {} })
      readable.push('x')
      readable.read()
    `
    const run = async (env: NodeJS.ProcessEnv) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env })
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      const [code] = await once(child, 'exit')
      return { code, lines: stderr.split('\n').filter((l) => /^STREAM \d+: /.test(l)) }
    }
    const { NODE_DEBUG: _, ...quiet } = process.env
    const debugging = await run({ ...quiet, NODE_DEBUG: 'stream' })
    assert.equal(debugging.code, 0)
    assert.ok(
      debugging.lines.some((l) => /STREAM \d+: read/.test(l)),
      debugging.lines.join('\n'),
    )
    const silent = await run(quiet)
    assert.equal(silent.code, 0)
    assert.deepEqual(silent.lines, [])
  })
})

/** GET /h/<n>: a response with many headers, some the same on every response (indexed), some new (literal), cookies (never indexed). */
function headersApp() {
  const app = express()
  app.get('/h/:n', (req, res) => {
    const n = req.params.n
    res.setHeader('x-same', 'the same value on every response')
    res.setHeader('x-varies', `value ${n}`)
    res.setHeader(`x-name-${Number(n) % 7}`, `named ${n}`)
    res.setHeader('set-cookie', [`a=${n}; Secure`, 'b=2; Secure'])
    res.setHeader('x-long', 'l'.repeat(100 + Number(n)))
    res.type('text/plain').send(`body ${n}`)
  })
  return app
}

async function manyHeaders(url: string, count: number, settings: http2.Settings = {}) {
  const session = http2.connect(url, { rejectUnauthorized: false, settings })
  const errors: unknown[] = []
  session.on('error', (e) => errors.push(e))
  try {
    return await Promise.all(
      Array.from({ length: count }, async (_, n) => {
        const stream = session.request({ ':path': `/h/${n}` })
        stream.on('error', (e) => errors.push(e))
        const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
        let body = ''
        stream.setEncoding('utf8')
        for await (const chunk of stream) body += chunk
        return { n, headers, body, errors }
      }),
    )
  } finally {
    session.close()
  }
}

describe('response headers are encoded directly (direct-hpack.ts)', () => {
  test('100 responses in parallel on one connection, twice, decode to the headers set', async () => {
    const running = await startServer(headersApp())
    try {
      for (let round = 0; round < 2; round++) {
        const results = await manyHeaders(running.url, 100)
        for (const { n, headers, body, errors } of results) {
          assert.deepEqual(errors, [])
          assert.equal(headers[':status'], 200)
          assert.equal(body, `body ${n}`)
          assert.equal(headers['x-same'], 'the same value on every response')
          assert.equal(headers['x-varies'], `value ${n}`)
          assert.equal(headers[`x-name-${n % 7}`], `named ${n}`)
          assert.deepEqual(headers['set-cookie'], [`a=${n}; Secure`, 'b=2; Secure'])
          assert.equal(headers['x-long'], 'l'.repeat(100 + n))
        }
      }
    } finally {
      await running.close()
    }
  })
})

describe('the frames of one turn of the event loop go out in one write (batched-writes.ts)', () => {
  test('100 requests in one connection: fewer socket writes than responses, every response whole', async () => {
    const running = await startServer(headersApp())
    let writes = 0
    running.server.prependListener('secureConnection', (socket: net.Socket) => {
      const handle = (socket as net.Socket & { _handle: Record<string, (...args: unknown[]) => unknown> })._handle
      for (const method of ['writeBuffer', 'writev'] as const) {
        const original = handle[method]!
        handle[method] = function countWrite(this: unknown, ...args: unknown[]) {
          writes++
          return original.apply(this, args)
        }
      }
    })
    try {
      const results = await manyHeaders(running.url, 100)
      assert.equal(results.length, 100)
      for (const { n, body } of results) assert.equal(body, `body ${n}`)
      // Each response is 3 frames (HEADERS, DATA, the empty DATA with END_STREAM): 300 in all.
      assert.ok(writes < 50, `${writes} writes`)
    } finally {
      await running.close()
    }
  })

  test('a body written over time reaches the client as it is written, not later', async () => {
    const app = express()
    let release!: () => void
    const released = new Promise<void>((r) => (release = r))
    app.get('/slowly', (_req, res) => {
      res.type('text/plain')
      res.write('first ')
      void released.then(() => res.end('last'))
    })
    const running = await startServer(app)
    const session = http2.connect(running.url, { rejectUnauthorized: false })
    try {
      const stream = session.request({ ':path': '/slowly' })
      stream.setEncoding('utf8')
      const [first] = (await once(stream, 'data')) as [string]
      assert.equal(first, 'first ')
      release()
      let rest = ''
      for await (const chunk of stream) rest += chunk
      assert.equal(rest, 'last')
    } finally {
      session.close()
      await running.close()
    }
  })
})
