/**
 * spdy's connection setup (issue 24: from the TLS handshake to the request in the app) keeps
 * its behaviour: real servers on port 0 over TLS, real HTTP/2 clients (node:http2, raw frames).
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { once } from 'node:events'
import type { TLSSocket } from 'node:tls'
import type { RequestListener } from 'node:http'
import type { Server as HttpsServer, ServerOptions } from 'node:https'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import express from 'express'
import { installSpdyCompat } from '../index.js'
import { warmUpSpdy } from '../src/compat/spdy/warm-up.js'
import { ROOT, startServer } from './helpers/server.js'
import { testCertificate } from './helpers/tls.js'

const execFileP = promisify(execFile)
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
  interface Made {
    log: string[]
    seenAtStart: string[]
    seen: string[]
    body: string
  }
  /** Servers made one after another in a fresh process (test/fixtures/warm-up-servers.ts), what each logged and saw. */
  async function serversInOneProcess(servers: object[]): Promise<Made[]> {
    const { stdout } = await execFileP(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/warm-up-servers.ts')], {
      cwd: ROOT,
      env: { ...process.env, SERVERS: JSON.stringify(servers), NODE_OPTIONS: '' },
      timeout: 60_000,
    })
    return stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Made)
  }
  const WARMED = /^warm-up: 24 of 24 requests answered, 24 hints, 12 pushed, in \d+ ms$/
  const SKIPPED = 'warm-up: skipped, this process has warmed spdy up already'

  test("a process's first spdy server runs 2 connections of 12 requests (103s, pushes, bodies) through a private server; later ones skip it; apps see only real requests", async () => {
    const [first, second, http] = await serversInOneProcess([{}, {}, { transport: 'http2' }])
    assert.equal(first!.log.length, 1, first!.log.join('\n'))
    assert.match(first!.log[0]!, WARMED)
    assert.deepEqual(second!.log, [SKIPPED])
    assert.deepEqual(http!.log, [], 'node:http2 has nothing to warm')
    for (const made of [first, second, http]) {
      assert.deepEqual(made!.seenAtStart, [], 'the warm-up never reaches the app')
      assert.deepEqual(made!.seen, ['/real'])
      assert.equal(made!.body, 'ok')
    }
  })

  test('warmUp: false starts without one (and leaves it to the next server); small limits and an encrypted key still warm up whole', async () => {
    const [off, on] = await serversInOneProcess([{ warmUp: false }, {}])
    assert.deepEqual(off!.log, [])
    assert.match(on!.log[0] ?? '', WARMED)
    // At most 1 stream at once, and 8 fields a header list (4 of them pseudo-headers): the minimums.
    const [small] = await serversInOneProcess([{ maxConcurrentStreams: 1, limits: { maxHeaderListPairs: 8 } }])
    assert.match(small!.log[0] ?? '', WARMED)
    const [encrypted] = await serversInOneProcess([{ passphrase: 'warm-up test' }])
    assert.match(encrypted!.log[0] ?? '', WARMED)
  })

  /** warmUpSpdy's own runs, in this process: the private server and its server-side sockets recorded. */
  function recorded(listener?: RequestListener) {
    const spdy = installSpdyCompat()
    const made: { server?: HttpsServer; sockets: TLSSocket[] } = { sockets: [] }
    const create = (o: ServerOptions, own: RequestListener): HttpsServer => {
      made.server = spdy.createServer(o, listener ?? own) as HttpsServer
      made.server.on('secureConnection', (socket: TLSSocket) => made.sockets.push(socket))
      return made.server
    }
    return { made, create }
  }
  const SIZE = { connections: 2, requests: 12, concurrency: 12, fields: 7 }
  const spdyOptions = async (more: object = {}) => ({ ...(await testCertificate()), spdy: { protocols: ['h2'] }, ...more }) as ServerOptions

  test('warmUpSpdy answers every request, then leaves nothing running: its sockets destroyed, its server answering nothing more', async () => {
    const { made, create } = recorded()
    const result = await warmUpSpdy(create, await spdyOptions(), SIZE)
    assert.deepEqual({ ...result, ms: 0 }, { requests: 24, answered: 24, hints: 24, pushed: 12, ms: 0 })
    assert.equal(made.sockets.length, 2)
    await new Promise((resolve) => setImmediate(resolve))
    assert.ok(
      made.sockets.every((s) => s.destroyed),
      'every connection of the warm-up is destroyed',
    )
    // A connection to the private server after its run has ended is closed at once: nothing answered.
    const late = await warmUpSpdy(() => made.server!, {}, { ...SIZE, connections: 1, requests: 1 }, 5000)
    assert.deepEqual({ answered: late.answered, hints: late.hints }, { answered: 0, hints: 0 })
    assert.match(late.error ?? '', /^0 of 1 requests answered: /)
  })

  test('warmUpSpdy never throws: a refused handshake, a server that never answers, a create that throws, more streams than the server allows', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      // The client sends no certificate: every request ends unanswered, before the timeout.
      const refused = await warmUpSpdy(recorded().create, await spdyOptions({ requestCert: true, rejectUnauthorized: true }), SIZE, 10_000)
      assert.equal(refused.answered, 0)
      assert.match(refused.error ?? '', /^0 of 24 requests answered: /)
      assert.doesNotMatch(refused.error ?? '', /not done after/)

      // A handler that never answers: given up at the timeout; its connections destroyed.
      const silent = recorded(() => {})
      const stalled = await warmUpSpdy(silent.create, await spdyOptions(), SIZE, 300)
      assert.equal(stalled.error, '0 of 24 requests answered: not done after 300 ms')
      await new Promise((resolve) => setImmediate(resolve))
      assert.ok(silent.made.sockets.length > 0 && silent.made.sockets.every((s) => s.destroyed))

      const thrown = await warmUpSpdy(
        () => {
          throw new Error('no server')
        },
        {},
        SIZE,
      )
      assert.equal(thrown.error, '0 of 24 requests answered: no server')

      // The server allows 4 streams at once; 12 at once get refused, 4 at once all answered.
      const four = await spdyOptions({ spdy: { protocols: ['h2'], connection: { maxStreams: 4 } } })
      const tooMany = await warmUpSpdy(recorded().create, four, SIZE)
      assert.ok(tooMany.answered < 24, JSON.stringify(tooMany))
      assert.match(tooMany.error ?? '', /REFUSED_STREAM/)
      const within = await warmUpSpdy(recorded().create, four, { ...SIZE, concurrency: 4 })
      assert.equal(within.answered, 24, JSON.stringify(within))

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
