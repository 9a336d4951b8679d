/**
 * spdy's connection setup (issue 24: from the TLS handshake to the request in the app) keeps
 * its behaviour: real servers on port 0 over TLS, real HTTP/2 clients (node:http2, raw frames).
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { once } from 'node:events'
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls'
import type { RequestListener } from 'node:http'
import type { Server as HttpsServer, ServerOptions } from 'node:https'
import util from 'node:util'
import createDebug from 'debug'
import express from 'express'
import { installSpdyCompat } from '../index.js'
import { warmUpSpdy } from '../src/compat/spdy/warm-up.js'
import { startServer } from './helpers/server.js'
import { testCertificate } from './helpers/tls.js'
import { RawH2Client, frame, frames, FRAME, END_HEADERS, SETTING } from './helpers/raw-h2.js'

const ACK = 0x1

/** 300 KB that differ from one response to the next and from one part to the next. */
function bigBody(n: number): Buffer {
  const body = Buffer.alloc(300 * 1024)
  for (let i = 0; i < body.length; i += 4) body.writeUInt32BE((i * 2654435761 + n) >>> 0, i)
  return body
}

function echoApp() {
  const app = express()
  app.post('/echo', (req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (body += chunk))
    req.on('end', () => res.type('text/plain').end(body))
  })
  app.get('/big/:n', (req, res) => {
    res.type('application/octet-stream').end(bigBody(Number(req.params['n'])))
  })
  app.get('/huge', (_req, res) => {
    res.type('application/octet-stream').end(Buffer.alloc(8 << 20, 'h'))
  })
  app.get('/ok', (_req, res) => {
    res.type('text/plain').end('ok')
  })
  return app
}

function ping(n: number): Buffer {
  const payload = Buffer.alloc(8)
  payload.writeUInt32BE(n)
  return frame(FRAME.PING, 0, 0, payload)
}

describe('spdy: the parser hands its frames to the connection', () => {
  test('every frame of one read is handled once, in order: SETTINGS, PINGs, a request body in DATA frames, a second request', async () => {
    const running = await startServer(echoApp())
    const client = await RawH2Client.connect(running.port)
    try {
      // The preface and SETTINGS went out in connect(); the rest in one write, read at once.
      client.write(
        ping(101),
        frames.request(1, '/echo', { method: 'POST', endStream: false }),
        frames.data(1, 'abc'),
        ping(102),
        frames.data(1, 'def', true),
        frames.request(3, '/ok'),
        ping(103),
      )
      await client.until((f) => client.finished(1) && client.finished(3) && f.filter((x) => x.type === FRAME.PING).length >= 3, 5000, 'both responses')
      await client.ping()
      const pongs = client.of(FRAME.PING).filter((f) => (f.flags & ACK) !== 0)
      assert.deepEqual(
        pongs.map((f) => f.payload.readUInt32BE(0)),
        [101, 102, 103, 1],
        'one PING ACK per PING, in order (the last one is the client helper’s own)',
      )
      const settingsAcks = client.of(FRAME.SETTINGS).filter((f) => (f.flags & ACK) !== 0)
      assert.equal(settingsAcks.length, 1, 'one SETTINGS ACK for the client’s one SETTINGS')
      const body = (id: number): string =>
        Buffer.concat(
          client
            .on(id)
            .filter((f) => f.type === FRAME.DATA)
            .map((f) => f.payload),
        ).toString()
      assert.equal(body(1), 'abcdef')
      assert.equal(body(3), 'ok')
      assert.equal(client.of(FRAME.GOAWAY).length, 0)
    } finally {
      client.destroy()
      await running.close()
    }
  })

  test('the server SETTINGS carry the limits, and a node:http2 client makes requests on one connection until it closes it', async () => {
    const running = await startServer(echoApp(), { maxConcurrentStreams: 7, limits: { maxHeaderListSize: 12345 } })
    const raw = await RawH2Client.connect(running.port)
    try {
      await raw.until((f) => f.some((x) => x.type === FRAME.SETTINGS && x.settings !== undefined), 5000, 'the server SETTINGS')
      const settings = raw.of(FRAME.SETTINGS).find((f) => f.settings)!.settings!
      assert.equal(settings.get(SETTING.MAX_CONCURRENT_STREAMS), 7)
      assert.equal(settings.get(0x6), 12345, 'SETTINGS_MAX_HEADER_LIST_SIZE')
      assert.equal(settings.get(SETTING.ENABLE_PUSH), 0)
    } finally {
      raw.destroy()
    }

    let serverSocket: TLSSocket | undefined
    running.server.on('secureConnection', (socket: TLSSocket) => (serverSocket = socket))
    const session = http2.connect(running.url, { rejectUnauthorized: false })
    try {
      for (let i = 0; i < 3; i++) {
        const stream = session.request({ ':method': 'POST', ':path': '/echo' })
        stream.end(`body ${i}`)
        let body = ''
        stream.setEncoding('utf8')
        for await (const chunk of stream) body += chunk
        assert.equal(body, `body ${i}`)
      }
      assert.ok(serverSocket)
      const closed = once(serverSocket, 'close')
      session.close()
      // The client's GOAWAY and the end of its input: the server's connection ends and closes its socket.
      await closed
    } finally {
      session.destroy()
      await running.close()
    }
  })

  test('a DATA frame that arrives in parts is handed on in parts and the frames behind it follow', async () => {
    const running = await startServer(echoApp())
    const client = await RawH2Client.connect(running.port)
    try {
      const body = Buffer.alloc(12000, 'x')
      body.write('start', 0)
      body.write('end', body.length - 3)
      const data = frames.data(1, body, true)
      // The client's SETTINGS ACK (written when the server's SETTINGS come) goes first, not inside the DATA frame.
      await client.ping()
      client.write(frames.request(1, '/echo', { method: 'POST', endStream: false }), data.subarray(0, 5000))
      // The rest in later reads: the parser holds a part of the frame in between.
      await new Promise((resolve) => setTimeout(resolve, 30))
      client.write(data.subarray(5000, 9000))
      await new Promise((resolve) => setTimeout(resolve, 30))
      client.write(data.subarray(9000), frames.request(3, '/ok'), ping(104))
      await client.until(
        (f) => client.finished(1) && client.finished(3) && f.some((x) => x.type === FRAME.PING && (x.flags & ACK) !== 0),
        5000,
        'both responses',
      )
      const received = (id: number): Buffer =>
        Buffer.concat(
          client
            .on(id)
            .filter((f) => f.type === FRAME.DATA)
            .map((f) => f.payload),
        )
      assert.ok(received(1).equals(body), `the body back whole (${received(1).length} of ${body.length} bytes)`)
      assert.equal(received(3).toString(), 'ok')
    } finally {
      client.destroy()
      await running.close()
    }
  })

  test('responses larger than the socket buffers arrive whole and in order, with the client reading slowly', async () => {
    const running = await startServer(echoApp())
    const session = http2.connect(running.url, { rejectUnauthorized: false, settings: { initialWindowSize: 4 << 20 } })
    session.on('error', () => {})
    try {
      await once(session, 'connect')
      session.setLocalWindowSize(16 << 20)
      const fetches = [1, 2, 3, 4].map(async (n) => {
        const stream = session.request({ ':path': `/big/${n}` })
        const chunks: Buffer[] = []
        let reads = 0
        stream.on('data', (chunk: Buffer) => {
          chunks.push(chunk)
          // Now and then the client stops reading for a while: the server's socket fills, its framer waits for 'drain'.
          if (++reads % 8 === 0) {
            stream.pause()
            setTimeout(() => stream.resume(), 5)
          }
        })
        await once(stream, 'end')
        return Buffer.concat(chunks)
      })
      const bodies = await Promise.all(fetches)
      for (const [i, body] of bodies.entries()) assert.ok(body.equals(bigBody(i + 1)), `response ${i + 1} whole and in order (${body.length} bytes)`)
    } finally {
      session.close()
      await running.close()
    }
  })

  test('a client that stops reading: the server stops writing into the socket once it is full (backpressure kept)', async () => {
    const running = await startServer(echoApp())
    let serverSocket: TLSSocket | undefined
    running.server.on('secureConnection', (socket: TLSSocket) => (serverSocket = socket))
    // Windows that let all 8 MB go: only the socket can hold them back.
    const client = await RawH2Client.connect(running.port, { settings: { [SETTING.INITIAL_WINDOW_SIZE]: 2 ** 31 - 1 } })
    try {
      client.write(frames.windowUpdate(0, 2 ** 31 - 1 - 65535), frames.request(1, '/huge'))
      await client.until((f) => f.some((x) => x.type === FRAME.DATA), 5000, 'the first DATA')
      client.socket.pause()
      // The kernel's buffers fill, then the server's socket's: its size there stays near its highWaterMark.
      let most = 0
      for (let i = 0; i < 40; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10))
        most = Math.max(most, serverSocket!.writableLength)
      }
      assert.ok(most < 1 << 20, `the server's socket held ${most} bytes of a client that does not read`)
      client.socket.resume()
      await client.until(() => client.finished(1), 10000, 'the whole response')
      assert.equal(client.dataBytes(1), 8 << 20)
    } finally {
      client.destroy()
      await running.close()
    }
  })

  test('a frame the protocol guard refuses still ends the connection with its GOAWAY, and frames after it are not handled', async () => {
    const running = await startServer(echoApp())
    const client = await RawH2Client.connect(running.port)
    try {
      // A HEADERS frame on stream 0: a connection error PROTOCOL_ERROR (RFC 9113 §6.2); the request behind it never runs.
      client.write(frame(FRAME.HEADERS, END_HEADERS, 0, Buffer.alloc(0)), frames.request(1, '/ok'))
      await client.until((f) => f.some((x) => x.type === FRAME.GOAWAY), 5000, 'GOAWAY')
      assert.equal(client.of(FRAME.GOAWAY)[0]!.errorCode, 0x1)
      await client.until(() => client.closed, 5000, 'the socket to close').catch(() => undefined)
      assert.equal(client.on(1).filter((f) => f.type === FRAME.HEADERS).length, 0)
    } finally {
      client.destroy()
      await running.close()
    }
  })
})

describe('a fresh spdy server warms spdy up before its first client (warm-up.ts)', () => {
  /** The server logger's lines while `run` runs (DEBUG=express-h2-push:server, in this process). */
  async function serverLog<T>(run: () => Promise<T>): Promise<{ value: T; lines: string[] }> {
    const lines: string[] = []
    const log = createDebug.log
    const before = createDebug.disable()
    createDebug.log = (...args: unknown[]) => lines.push(util.format(...args))
    createDebug.enable('express-h2-push:server')
    try {
      return { value: await run(), lines }
    } finally {
      createDebug.disable()
      if (before) createDebug.enable(before)
      createDebug.log = log
    }
  }
  const WARMED = /warm-up: 24 requests answered, 24 hints, 12 pushed, in \d+ ms$/

  test('createServer runs 2 connections of 12 requests (103s, pushes, bodies) through a private server; the app sees only real requests', async () => {
    const seen: string[] = []
    const app = express()
    app.get('/ok', (req, res) => {
      seen.push(req.url)
      res.type('text/plain').end('ok')
    })
    app.use((req, res) => {
      seen.push(req.url)
      res.status(404).end()
    })
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    const { value: running, lines } = await serverLog(() => startServer(app))
    try {
      assert.equal(lines.filter((l) => /warm-up/.test(l)).length, 1, lines.join('\n'))
      assert.match(lines.find((l) => /warm-up/.test(l))!, WARMED)
      assert.deepEqual(seen, [], 'the warm-up never reaches the app')
      const connections: unknown[] = []
      running.server.on('secureConnection', (socket) => connections.push(socket))
      const session = http2.connect(running.url, { rejectUnauthorized: false })
      const req = session.request({ ':path': '/ok' })
      req.setEncoding('utf8')
      let body = ''
      req.on('data', (d: string) => (body += d))
      await once(req, 'end')
      session.close()
      assert.equal(body, 'ok')
      assert.deepEqual(seen, ['/ok'])
      assert.equal(connections.length, 1)
      assert.deepEqual(unhandled, [])
    } finally {
      process.off('unhandledRejection', onUnhandled)
      await running.close()
    }
  })

  test('warmUp: false, and the node:http2 transport, start without one', async () => {
    for (const options of [{ warmUp: false }, { transport: 'http2' as const }]) {
      const { value: running, lines } = await serverLog(() => startServer(express(), options))
      await running.close()
      assert.deepEqual(
        lines.filter((l) => /warm-up/.test(l)),
        [],
        JSON.stringify(options),
      )
    }
  })

  test('it takes none of serverOptions but TLS: an SNICallback or a client-certificate check is never asked', async () => {
    let asked = 0
    const tls = await testCertificate()
    const context = createSecureContext(tls)
    const serverOptions = {
      requestCert: true,
      rejectUnauthorized: true,
      SNICallback: (_name: string, callback: (err: Error | null, ctx?: SecureContext) => void) => {
        asked++
        callback(null, context)
      },
    }
    const { value: running, lines } = await serverLog(() => startServer(express(), { serverOptions }))
    await running.close()
    assert.match(lines.find((l) => /warm-up/.test(l)) ?? '', WARMED)
    assert.equal(asked, 0)
  })

  test('it never throws and leaves nothing running: a handshake the server refuses, a server that never answers', async () => {
    const spdy = installSpdyCompat()
    const tls = await testCertificate()
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const size = { connections: 2, requests: 12 }
      const options = { ...tls, spdy: { protocols: ['h2'] } } as ServerOptions
      const create = (o: ServerOptions, listener: RequestListener) => spdy.createServer(o, listener) as HttpsServer
      const ok = await warmUpSpdy(create, options, size)
      assert.deepEqual({ ...ok, ms: 0 }, { answered: 24, hints: 24, pushed: 12, ms: 0 })

      // The client sends no certificate: the server ends the handshake, and the warm-up stops there, before its timeout.
      const refused = await warmUpSpdy(create, { ...options, requestCert: true, rejectUnauthorized: true } as ServerOptions, size, 10_000)
      assert.equal(refused.answered, 0)
      assert.match(refused.error ?? '', /^(a request ended without a response|the connection closed with 12 of 12 requests unanswered)$/)

      // A handler that never answers: given up at the timeout.
      const silent = await warmUpSpdy((o) => spdy.createServer(o, () => {}) as HttpsServer, options, size, 300)
      assert.equal(silent.answered, 0)
      assert.equal(silent.error, 'not done after 300 ms')

      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.deepEqual(
        process.getActiveResourcesInfo().filter((r) => r === 'Timeout'),
        [],
        'no timer of the warm-up is left',
      )
      assert.deepEqual(unhandled, [])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})
