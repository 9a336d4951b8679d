/**
 * Bounded streams and time: SETTINGS_MAX_CONCURRENT_STREAMS advertised and enforced,
 * idle connections closed with GOAWAY, TCP keepalive on accepted sockets, and the
 * held routes (/header, /autoPush) capped per connection and in time. Raw frames
 * (test/helpers/raw-h2.ts) where a client must break the rules Node's client keeps.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import { createServer, type CreateServerOptions, type Transport } from '../index.js'
import { createDemoApp, type DemoAppOptions } from '../routes/index.js'
import { heldStreams } from '../routes/hold-open.js'
import { RawH2Client, frames, FRAME, ERROR, SETTING, type Frame } from './helpers/raw-h2.js'
import { H2Client } from './helpers/h2.js'
import { startServer, heldStatusOn, TRANSPORTS, type Running } from './helpers/server.js'
import { testCertificate } from './helpers/tls.js'
import { assertHealthy, resourceCounts, SCALE, settles } from './helpers/faults.js'

const run = promisify(execFile)

interface Demo extends Running {
  /** Requests that reached the app. */
  readonly requests: number
}

async function startLimitedDemo(transport: Transport, demo: Partial<DemoAppOptions>, options: CreateServerOptions = {}): Promise<Demo> {
  const { cert } = await testCertificate()
  let requests = 0
  const app = express()
  app.use((_req, _res, next) => {
    requests++
    next()
  })
  app.use(createDemoApp({ certificate: cert, logRequests: false, watchManifest: false, ...demo }))
  const running = await startServer(app, { transport, ...options })
  return {
    ...running,
    get requests() {
      return requests
    },
  }
}

function requests(count: number, path = '/header', first = 1): Buffer[] {
  return Array.from({ length: count }, (_, i) => frames.request(first + 2 * i, path))
}

function refused(client: RawH2Client): Frame[] {
  return client.of(FRAME.RST_STREAM).filter((f) => f.errorCode === ERROR.REFUSED_STREAM)
}

/** Streams answered with HEADERS (held: no END_STREAM). */
function answered(client: RawH2Client): Set<number> {
  return new Set(client.of(FRAME.HEADERS).map((f) => f.streamId))
}

function advertisedLimit(client: RawH2Client): number | undefined {
  return client.frames.find((f) => f.settings !== undefined)?.settings?.get(SETTING.MAX_CONCURRENT_STREAMS)
}

describe('limits: options', () => {
  test('bad values are refused at construction, naming the option and the range', async () => {
    const tls = await testCertificate()
    const app = express()
    const rows: Array<[Record<string, unknown>, RegExp]> = [
      [{ maxConcurrentStreams: 0 }, /`maxConcurrentStreams` must be an integer from 1 to 4294967295, got 0/],
      [{ maxConcurrentStreams: 1.5 }, /maxConcurrentStreams/],
      [{ maxConcurrentStreams: 2 ** 32 }, /maxConcurrentStreams/],
      [{ maxConcurrentStreams: '128' }, /maxConcurrentStreams/],
      [{ idleTimeout: -1 }, /`idleTimeout` must be a number \(ms\) from 0 to 2147483647, or false, got -1/],
      [{ idleTimeout: true }, /idleTimeout/],
      [{ idleTimeout: Number.NaN }, /idleTimeout.*got NaN/],
      [{ idleTimeout: 2 ** 31 }, /idleTimeout/],
      [{ keepAlive: 'yes' }, /`keepAlive` must be a boolean/],
      [{ keepAliveInitialDelay: 500 }, /`keepAliveInitialDelay` must be a number \(ms\) from 1000/],
      [{ warmUp: 1 }, /`warmUp` must be a boolean/],
      [{ idleTimout: 1000 }, /Did you mean `idleTimeout`\?/],
    ]
    for (const [options, message] of rows) {
      await assert.rejects(createServer(app, { ...tls, ...(options as CreateServerOptions) }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ERR_H2PUSH_INVALID_OPTION', JSON.stringify(options))
        assert.match(err.message, message)
        return true
      })
    }
  })

  test('held-stream limits out of range throw a RangeError', () => {
    for (const limits of [{ maxPerConnection: -1 }, { maxPerConnection: 1.5 }, { maxMs: -5 }, { maxMs: 2 ** 31 }, { maxMs: Number.NaN }]) {
      assert.throws(() => heldStreams(limits), RangeError, JSON.stringify(limits))
    }
    assert.throws(() => createDemoApp({ certificate: 'x', holdMaxMs: -1 }), /maxMs must be an integer from 0/)
  })
})

for (const transport of TRANSPORTS) {
  describe(`limits (${transport})`, () => {
    const held = heldStatusOn(transport)

    test('the server SETTINGS advertise MAX_CONCURRENT_STREAMS: 128 by default, the option otherwise', async () => {
      for (const [options, expected] of [
        [{}, 128],
        [{ maxConcurrentStreams: 7 }, 7],
      ] as const) {
        const demo = await startLimitedDemo(transport, {}, options)
        const client = await RawH2Client.connect(demo.port)
        try {
          await client.until((f) => f.some((x) => x.settings !== undefined), 5000, 'server SETTINGS')
          assert.equal(advertisedLimit(client), expected)
        } finally {
          await client.close()
          await demo.close()
        }
      }
    })

    test('limit + 50 held streams in one write: the limit is held, exactly 50 are refused (REFUSED_STREAM) and never reach the app', async () => {
      const limit = 128
      const demo = await startLimitedDemo(transport, { maxHeldPerConnection: 0 })
      const baseline = resourceCounts()
      try {
        for (let round = 0; round < SCALE; round++) {
          const client = await RawH2Client.connect(demo.port)
          // Right behind the preface, before the server's SETTINGS can have been acknowledged.
          client.write(...requests(limit + 50))
          await client.until(
            (f) => f.filter((x) => x.type === FRAME.HEADERS || x.type === FRAME.RST_STREAM).length >= limit + 50,
            10_000,
            'an answer on every stream',
          )
          assert.equal(advertisedLimit(client), limit)
          assert.equal(answered(client).size, limit, 'held streams')
          assert.equal(refused(client).length, 50, 'refused streams')
          // The refused are the last 50 (streams the limit was full for), and none was also answered.
          for (const f of refused(client)) assert.ok(f.streamId > 2 * limit - 1 && !answered(client).has(f.streamId), `stream ${f.streamId}`)
          assert.ok(
            client.frames.every((f) => f.type !== FRAME.RST_STREAM || f.errorCode === ERROR.REFUSED_STREAM),
            'only REFUSED_STREAM resets',
          )
          assert.equal(client.closed, false, 'the connection stays up')
          await settles(() => demo.requests === limit * (round + 1), `${limit} requests at the app (saw ${demo.requests})`)
          await client.close()
        }
        await assertHealthy(demo.url, baseline, 'refused streams')
      } finally {
        await demo.close()
      }
    })

    test('over the limit once SETTINGS are acknowledged: spdy refuses the stream and takes new ones as held streams close; node:http2 ends the connection', async () => {
      const demo = await startLimitedDemo(transport, { maxHeldPerConnection: 0 }, { maxConcurrentStreams: 4 })
      try {
        const client = await RawH2Client.connect(demo.port)
        await client.until((f) => f.some((x) => x.settings !== undefined), 5000, 'server SETTINGS')
        client.write(...requests(4))
        await client.until(() => answered(client).size === 4, 5000, 'four held streams')
        /** Opens stream `id`: true when held, false when refused or the connection is gone. */
        const open = async (id: number): Promise<boolean> => {
          client.write(frames.request(id, '/header'))
          await client.until(() => answered(client).has(id) || refused(client).some((f) => f.streamId === id), 5000, `an answer on ${id}`)
          return answered(client).has(id)
        }
        if (transport === 'http2') {
          // nghttp2: a stream over an acknowledged limit is a connection error.
          assert.equal(await open(9), false)
          await settles(() => client.closed, 'the connection to close')
          assert.equal(demo.requests, 4)
          return
        }
        assert.equal(await open(9), false, 'refused at the limit')
        assert.equal(client.closed, false)
        client.write(frames.rstStream(1), frames.rstStream(3))
        // The resets free two slots once the server has processed them; a stream refused meanwhile may be retried.
        let id = 11
        let accepted = 0
        while (accepted < 2) {
          if (await open(id)) accepted++
          else await sleep(25)
          id += 2
          assert.ok(id < 11 + 2 * 200, 'two slots freed by two resets')
        }
        assert.equal(await open(id), false, 'two resets free exactly two slots')
        assert.equal(demo.requests, 6)
        await client.close()
      } finally {
        await demo.close()
      }
    })

    test('2 000 held streams from one connection in one write: RSS growth bounded, at most the limit reach the app', async () => {
      const demo = await startLimitedDemo(transport, { maxHeldPerConnection: 0 })
      try {
        const batch = requests(2000)
        const rssBefore = process.memoryUsage().rss
        const client = await RawH2Client.connect(demo.port)
        client.write(...batch)
        // Both refuse the streams over the limit, and end the connection once its queue of
        // RST_STREAMs floods (about 1 000: nghttp2's max_outbound_ack, our maxQueuedControlFrames).
        await settles(() => client.closed, 'the server to end the flooding connection', 20_000)
        assert.ok(demo.requests <= 128, `${demo.requests} requests reached the app`)
        assert.ok(refused(client).length + answered(client).size < 2000, 'the connection ended before every stream was answered')
        const grownMB = (process.memoryUsage().rss - rssBefore) / 1048576
        // Unbounded, 2 000 held streams grew RSS by 55-75 MB.
        assert.ok(grownMB < 40, `RSS grew ${grownMB.toFixed(1)} MB`)
        await client.close()
      } finally {
        await demo.close()
      }
    })

    test('an idle connection (no request, or none open) gets GOAWAY(NO_ERROR) and is closed; a held stream keeps it open', async () => {
      const demo = await startLimitedDemo(transport, { holdMaxMs: 400 }, { idleTimeout: 200 })
      const baseline = resourceCounts()
      try {
        for (let i = 0; i < 3 * SCALE; i++) {
          // No request at all.
          const silent = await RawH2Client.connect(demo.port)
          assert.equal(await silent.until((f) => f.some((x) => x.type === FRAME.GOAWAY), 5000, 'GOAWAY'), true)
          assert.equal(silent.of(FRAME.GOAWAY)[0]!.errorCode, ERROR.NO_ERROR)
          await settles(() => silent.closed, 'the server to close the idle connection')
        }
        // A held stream (held 400 ms) outlives the idle timeout (200 ms): GOAWAY only after its END_STREAM.
        const busy = await RawH2Client.connect(demo.port)
        busy.write(frames.request(1, '/header'))
        await busy.until((f) => f.some((x) => x.type === FRAME.GOAWAY), 5000, 'GOAWAY')
        const end = busy.frames.findIndex((f) => f.streamId === 1 && f.endStream)
        const goaway = busy.frames.findIndex((f) => f.type === FRAME.GOAWAY)
        assert.ok(end !== -1 && end < goaway, `END_STREAM of the held stream (#${end}) before GOAWAY (#${goaway})`)
        assert.equal(busy.of(FRAME.RST_STREAM).length, 0)
        assert.equal(busy.of(FRAME.GOAWAY)[0]!.payload.readUInt32BE(0) & 0x7fffffff, 1, 'last stream id: the one it served')
        await settles(() => busy.closed, 'the server to close the connection')
        await assertHealthy(demo.url, baseline, 'idle connections')
      } finally {
        await demo.close()
      }
    })

    test('idle time counts from the last request that closed: requests 400 ms apart keep a 1000 ms idleTimeout connection open past 1000 ms', async () => {
      const demo = await startLimitedDemo(transport, {}, { idleTimeout: 1000 })
      try {
        const client = await RawH2Client.connect(demo.port)
        for (const id of [1, 3, 5, 7]) {
          if (id > 1) await sleep(400)
          client.write(frames.request(id, '/crt'))
          await client.until((f) => f.some((x) => x.streamId === id && x.endStream), 5000, `the end of stream ${id}`)
          assert.equal(client.of(FRAME.GOAWAY).length, 0, `no GOAWAY before stream ${id} was served`)
        }
        assert.equal(await client.until((f) => f.some((x) => x.type === FRAME.GOAWAY), 5000, 'GOAWAY'), true)
        assert.equal(client.of(FRAME.GOAWAY)[0]!.errorCode, ERROR.NO_ERROR)
        await client.close()
      } finally {
        await demo.close()
      }
    })

    test('idleTimeout: false keeps an idle connection open; the idle timer is released with the connection', async () => {
      const demo = await startLimitedDemo(transport, {}, { idleTimeout: false })
      const timersBefore = resourceCounts()['Timeout'] ?? 0
      try {
        const client = await RawH2Client.connect(demo.port)
        await client.until((f) => f.some((x) => x.settings !== undefined), 5000, 'server SETTINGS')
        assert.ok((resourceCounts()['Timeout'] ?? 0) <= timersBefore, 'no idle timer')
        assert.equal(client.of(FRAME.GOAWAY).length, 0)
        await client.close()
      } finally {
        await demo.close()
      }
      const demo2 = await startLimitedDemo(transport, {}, { idleTimeout: 60_000 })
      const before = resourceCounts()['Timeout'] ?? 0
      try {
        const client = await RawH2Client.connect(demo2.port)
        await settles(() => (resourceCounts()['Timeout'] ?? 0) > before, 'the idle timer')
        await client.close()
        await settles(() => (resourceCounts()['Timeout'] ?? 0) <= before, 'the idle timer to be released')
      } finally {
        await demo2.close()
      }
    })

    test('a held stream ends cleanly (END_STREAM, no reset) after holdMaxMs, and its timers are released', async () => {
      const demo = await startLimitedDemo(transport, { holdMaxMs: 150, autoPushIntervalMs: 40 }, { idleTimeout: false })
      const baseline = resourceCounts()
      try {
        for (let i = 0; i < 3 * SCALE; i++) {
          const client = await RawH2Client.connect(demo.port, { settings: { [SETTING.ENABLE_PUSH]: 0 } })
          client.write(frames.request(1, '/header'), frames.request(3, '/autoPush'))
          await client.until((_f) => client.finished(1) && client.finished(3), 5000, 'both held streams to end')
          for (const id of [1, 3]) {
            assert.ok(
              client.on(id).some((f) => f.type === FRAME.HEADERS && !f.endStream),
              `stream ${id} was held (HEADERS without END_STREAM)`,
            )
            assert.ok(
              client.on(id).some((f) => f.endStream),
              `stream ${id} ended with END_STREAM`,
            )
          }
          assert.equal(client.of(FRAME.RST_STREAM).length, 0, 'no reset')
          assert.equal(client.closed, false)
          await client.close()
        }
        await assertHealthy(demo.url, baseline, 'held streams past holdMaxMs')
      } finally {
        await demo.close()
      }
    })

    test('holdMaxMs: 0 holds until the client leaves; the deadline timer exists only while streams are held', async () => {
      const demo = await startLimitedDemo(transport, { holdMaxMs: 0 }, { idleTimeout: false })
      const timersBefore = resourceCounts()['Timeout'] ?? 0
      try {
        const client = new H2Client(demo.url)
        const r = client.open('/header')
        assert.equal((await r.response)[':status'], held)
        assert.ok((resourceCounts()['Timeout'] ?? 0) <= timersBefore, 'no deadline timer')
        // Held, not ended at once: still open a while after its headers.
        await sleep(300)
        assert.equal(r.ended, false, 'the held stream was ended')
        await client.close(50)
      } finally {
        await demo.close()
      }
    })

    test('at most maxHeldPerConnection held streams per connection: the next gets 503 at once; another connection, or a released slot, is served', async () => {
      const demo = await startLimitedDemo(transport, { maxHeldPerConnection: 3 }, { idleTimeout: false })
      const baseline = resourceCounts()
      try {
        const first = new H2Client(demo.url)
        const held3 = [first.open('/header'), first.open('/autoPush'), first.open('/header')]
        for (const r of held3) assert.equal((await r.response)[':status'], held)
        const over = await first.request('/header')
        assert.equal(over.status, 503)
        assert.match(over.body.toString(), /already holds 3 open streams/)
        assert.equal((await first.request('/autoPush')).status, 503)
        // Ordinary requests are not counted.
        assert.equal((await first.request('/crt')).status, 200)
        // The cap is per connection.
        const second = new H2Client(demo.url)
        assert.equal((await second.open('/header').response)[':status'], held)
        // A held stream the client closes frees its slot (once the server has seen the reset).
        held3[0]!.stream.close()
        await held3[0]!.closed
        let again = first.open('/header')
        while (Number((await again.response)[':status']) !== held) {
          await again.closed
          await sleep(25)
          again = first.open('/header')
        }
        for (const r of held3.slice(1)) assert.equal(r.ended, false, 'still held')
        await first.close(50)
        await second.close(50)
        await assertHealthy(demo.url, baseline, 'held-per-connection cap')
      } finally {
        await demo.close()
      }
    })

    test('TCP keepalive is on for accepted sockets (keepAliveInitialDelay), off with keepAlive: false', async (t) => {
      try {
        await run('ss', ['-V'])
      } catch {
        t.skip('ss (iproute2) is not installed')
        return
      }
      for (const [options, expected] of [
        [{ keepAliveInitialDelay: 30_000 }, true],
        [{ keepAlive: false }, false],
      ] as const) {
        const demo = await startLimitedDemo(transport, {}, options)
        const client = await RawH2Client.connect(demo.port)
        try {
          await client.until((f) => f.some((x) => x.settings !== undefined), 5000, 'server SETTINGS')
          const { stdout } = await run('ss', ['-tnoH', 'state', 'established', `( sport = :${demo.port} )`])
          assert.match(stdout, /\S/, 'the server socket is listed')
          const timer = /timer:\(keepalive,(\d+)(?:\.\d+)?(ms|sec|min)/.exec(stdout)
          if (!expected) {
            assert.equal(timer, null, stdout)
            continue
          }
          assert.ok(timer, `no keepalive timer: ${stdout}`)
          const seconds = Number(timer[1]) * (timer[2] === 'min' ? 60 : timer[2] === 'ms' ? 0.001 : 1)
          assert.ok(seconds <= 30 && seconds > 20, `keepalive in ${seconds} s`)
        } finally {
          await client.close()
          await demo.close()
        }
      }
    })
  })
}
