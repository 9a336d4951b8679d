/**
 * createServer's `limits` (src/server/limits.ts): checked at construction, and in force on
 * the wire when set below their defaults. The attack families at the defaults are in
 * h2-attacks.test.ts; the protocol rules in h2-conformance.test.ts.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, DEFAULT_LIMITS, H2PushError } from '../index.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { RawH2Client, frames, headerBlock, FRAME, ERROR_NAMES, SETTING } from './helpers/raw-h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { testCertificate } from './helpers/tls.js'
import { type StallProbe, watchStalledWindows } from '../src/server/stalled-windows.js'

const WAIT = 3000

function request(path = '/'): Array<[string, string]> {
  return [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':authority', 'localhost'],
    [':path', path],
  ]
}

async function counting(transport: (typeof TRANSPORTS)[number], limits: object): Promise<Running & { seen: () => number }> {
  let seen = 0
  const app = (req: IncomingMessage, res: ServerResponse): void => {
    seen++
    res.end(req.url === '/large' ? 'x'.repeat(200_000) : 'ok')
  }
  const running = await startServer(app, { transport, limits })
  return Object.assign(running, { seen: () => seen })
}

/** The connection ends: GOAWAY (whose code is returned) or the socket closed without one. */
async function ended(client: RawH2Client): Promise<string> {
  await client.until((f) => f.some((x) => x.type === FRAME.GOAWAY), WAIT, 'GOAWAY').catch(() => undefined)
  const goaway = client.of(FRAME.GOAWAY)[0]
  await client
    .until(() => false, WAIT, 'the close')
    .catch(() => {
      throw new Error(`the connection stays open after ${client.frames.map((f) => f.name).join(' ')}`)
    })
  return goaway ? (ERROR_NAMES[goaway.errorCode!] ?? String(goaway.errorCode)) : 'closed'
}

describe('limits: options', () => {
  const tls = testCertificate()
  const bad: Array<[string, object, RegExp]> = [
    ['a typo', { maxContinuation: 4 }, /unknown option "maxContinuation"\. Did you mean `maxContinuations`\?/],
    ['zero', { maxContinuations: 0 }, /`maxContinuations` must be an integer from 1/],
    ['a rate without burst', { resets: { burst: 0, perSecond: 1 } }, /limits\.resets: option `burst` must be an integer from 1/],
    ['a rate with an unknown key', { resets: { bust: 10 } }, /Did you mean `burst`\?/],
    ['a header list under 1 KB', { maxHeaderListSize: 100 }, /`maxHeaderListSize` must be an integer from 1024/],
    ['a stall shorter than 100 ms', { stalledWindow: { ms: 10 } }, /limits\.stalledWindow: option `ms` must be a number \(ms\) from 100/],
  ]
  for (const [name, limits, message] of bad) {
    test(`${name} is refused at construction`, async () => {
      await assert.rejects(
        createServer(() => {}, { ...(await tls), limits }),
        (err: unknown) => err instanceof H2PushError && err.code === 'ERR_H2PUSH_INVALID_OPTION' && message.test(err.message),
      )
    })
  }

  test('not an object is refused', async () => {
    await assert.rejects(
      createServer(() => {}, { ...(await tls), limits: 5 as never }),
      /option `limits` must be an object/,
    )
  })

  test('the defaults are exported, frozen, and close to nghttp2', () => {
    assert.ok(Object.isFrozen(DEFAULT_LIMITS) && Object.isFrozen(DEFAULT_LIMITS.resets))
    assert.deepEqual(DEFAULT_LIMITS.resets, { burst: 1000, perSecond: 33 })
    assert.equal(DEFAULT_LIMITS.maxContinuations, 8)
    assert.equal(DEFAULT_LIMITS.maxQueuedControlFrames, 1000)
  })
})

for (const transport of TRANSPORTS) {
  describe(`limits in force (${transport})`, () => {
    test('resets: past the burst the connection ends; every reset request stays away from the app', async () => {
      const server = await counting(transport, { resets: { burst: 20, perSecond: 0.001 } })
      const client = await RawH2Client.connect(server.port)
      try {
        const pairs: Buffer[] = []
        for (let id = 1; id <= 2 * 40; id += 2) pairs.push(frames.headers(id, headerBlock(request()), { endStream: true }), frames.rstStream(id))
        client.write(...pairs)
        const code = await ended(client)
        // nghttp2 takes Node's streamResetBurst; both end the connection past it.
        assert.ok(['ENHANCE_YOUR_CALM', 'INTERNAL_ERROR', 'closed'].includes(code), code)
        assert.equal(server.seen(), 0, 'a request reset in the read that opened it never reaches the app')
      } finally {
        client.destroy()
        await server.close()
      }
    })

    test('resets within the burst are served as usual: the connection stays', async () => {
      const server = await counting(transport, { resets: { burst: 20, perSecond: 0.001 } })
      const client = await RawH2Client.connect(server.port)
      try {
        for (let id = 1; id <= 2 * 10; id += 2) client.write(frames.headers(id, headerBlock(request()), { endStream: true }), frames.rstStream(id))
        client.write(frames.headers(21, headerBlock(request()), { endStream: true }))
        await client.until(() => client.finished(21), WAIT, 'the answer on stream 21')
        assert.equal(client.of(FRAME.GOAWAY).length, 0)
        assert.equal(server.seen(), 1)
      } finally {
        client.destroy()
        await server.close()
      }
    })

    test('stalledWindow: responses held by a client whose streams start with 1-byte windows end the connection', async () => {
      const server = await counting(transport, { stalledWindow: { ms: 300, minWindow: 1024 } })
      const client = await RawH2Client.connect(server.port, { settings: { [SETTING.ENABLE_PUSH]: 0, [SETTING.INITIAL_WINDOW_SIZE]: 1 } })
      try {
        const started = Date.now()
        client.write(frames.headers(1, headerBlock(request('/large')), { endStream: true }))
        assert.equal(await ended(client), 'ENHANCE_YOUR_CALM')
        assert.ok(Date.now() - started >= 300, 'not before the stall lasted its time')
      } finally {
        client.destroy()
        await server.close()
      }
    })

    test('stalledWindow: a client with ordinary windows that stops reading a large body keeps its connection', async () => {
      const server = await counting(transport, { stalledWindow: { ms: 300, minWindow: 1024 } })
      const client = await RawH2Client.connect(server.port, { settings: { [SETTING.ENABLE_PUSH]: 0 } })
      try {
        client.write(frames.headers(1, headerBlock(request('/large')), { endStream: true }))
        // 64 KB arrive, then the windows are spent and no WINDOW_UPDATE comes: a paused download.
        await client.until(() => client.dataBytes(1) >= 65_535 - 9 * 8, WAIT, 'the first window of the body')
        await sleep(1000)
        await client.ping(WAIT)
        assert.equal(client.of(FRAME.GOAWAY).length, 0, 'no GOAWAY for a paused client')
        client.write(frames.windowUpdate(0, 1 << 20), frames.windowUpdate(1, 1 << 20))
        await client.until(() => client.finished(1), WAIT, 'the rest of the body once the client reads again')
        assert.equal(client.dataBytes(1), 200_000)
      } finally {
        client.destroy()
        await server.close()
      }
    })

    test('maxEmptyFrames: empty DATA frames past it end the connection', async () => {
      const server = await counting(transport, { maxEmptyFrames: 10 })
      const client = await RawH2Client.connect(server.port)
      try {
        const post = request().map(([name, value]): [string, string] => [name, name === ':method' ? 'POST' : value])
        const empty: Buffer[] = [frames.headers(1, headerBlock(post), { endStream: false })]
        for (let i = 0; i < 30; i++) empty.push(frames.data(1, ''))
        client.write(...empty)
        assert.notEqual(await ended(client), 'NO_ERROR')
      } finally {
        client.destroy()
        await server.close()
      }
    })
  })
}

describe('limits in force (spdy only: nghttp2 keeps its own)', () => {
  test('maxContinuations: one more CONTINUATION than allowed ends the connection with ENHANCE_YOUR_CALM; as many are served', async () => {
    const server = await counting('spdy', { maxContinuations: 2 })
    try {
      const block = headerBlock([...request(), ['x-a', 'a'.repeat(30)], ['x-b', 'b'.repeat(30)], ['x-c', 'c'.repeat(30)]])
      const third = Math.ceil(block.length / 3)
      const parts = [block.subarray(0, third), block.subarray(third, 2 * third), block.subarray(2 * third)]
      const ok = await RawH2Client.connect(server.port)
      ok.write(
        frames.headers(1, parts[0]!, { endStream: true, endHeaders: false }),
        frames.continuation(1, parts[1]!, false),
        frames.continuation(1, parts[2]!, true),
      )
      await ok.until(() => ok.finished(1), WAIT, 'the answer')
      ok.destroy()

      const quarter = Math.ceil(block.length / 4)
      const four = [0, 1, 2, 3].map((i) => block.subarray(i * quarter, (i + 1) * quarter))
      const over = await RawH2Client.connect(server.port)
      over.write(
        frames.headers(1, four[0]!, { endStream: true, endHeaders: false }),
        frames.continuation(1, four[1]!, false),
        frames.continuation(1, four[2]!, false),
        frames.continuation(1, four[3]!, true),
      )
      assert.equal(await ended(over), 'ENHANCE_YOUR_CALM')
      assert.equal(server.seen(), 1)
      over.destroy()
    } finally {
      await server.close()
    }
  })

  test('maxHeaderListPairs: a request with more fields is reset (ENHANCE_YOUR_CALM), the connection stays', async () => {
    const server = await counting('spdy', { maxHeaderListPairs: 8 })
    const client = await RawH2Client.connect(server.port)
    try {
      const fields = request()
      for (let i = 0; i < 8; i++) fields.push([`x-${i}`, '1'])
      client.write(frames.headers(1, headerBlock(fields), { endStream: true }), frames.headers(3, headerBlock(request()), { endStream: true }))
      await client.until(() => client.finished(1) && client.finished(3), WAIT, 'both answers')
      const reset = client.of(FRAME.RST_STREAM).find((f) => f.streamId === 1)
      assert.equal(reset && ERROR_NAMES[reset.errorCode!], 'ENHANCE_YOUR_CALM')
      assert.equal(server.seen(), 1)
    } finally {
      client.destroy()
      await server.close()
    }
  })
})

describe('stalledWindow: how the looks add up (src/server/stalled-windows.ts)', () => {
  /**
   * Runs the watch over `looks` (at each: whether the client's window is small, a response waits, the socket is backed
   * up), one step of the script per look of the watch's own; resolves the look it ended at, or undefined.
   */
  async function watch(looks: ReadonlyArray<{ small?: boolean; pending: boolean; backedUp?: boolean }>): Promise<number | undefined> {
    let look = -1
    let stop = (): void => {}
    let inLook = false
    const settled = new Promise<number | undefined>((resolve, reject) => {
      // The first read of a look, whichever the watch makes first, moves the script on.
      const step = () => {
        if (!inLook) {
          inLook = true
          look++
          queueMicrotask(() => {
            inLook = false
          })
          if (look >= looks.length) {
            stop()
            resolve(undefined)
          }
        }
        return looks[look]
      }
      const probe: StallProbe = {
        socket: {
          get writableNeedDrain(): boolean {
            const now = step()
            // node:http2's session.socket throws once the session is destroyed, when nothing waits on it any more.
            if (now && !now.pending) throw new Error('the watch read the socket of a connection with nothing waiting')
            return now?.backedUp ?? false
          },
        } as never,
        pending: () => step()?.pending ?? false,
        smallWindow: () => step()?.small ?? true,
      }
      // 100 ms in four looks: one every 25 ms. (Its timer does not keep the process alive: the timeout below does.)
      stop = watchStalledWindows(probe, { ms: 100, minWindow: 1024 }, () => resolve(look))
      setTimeout(() => reject(new Error(`the watch made ${look + 1} looks in 2 s`)), 2000).unref()
    })
    const alive = setTimeout(() => {}, 2000)
    return settled.finally(() => {
      clearTimeout(alive)
      stop()
    })
  }
  const held = { pending: true }
  const gap = { pending: false }

  test('five looks in a row with a response waiting end it; one look between them with nothing waiting does not break the run', async () => {
    assert.equal(await watch([held, held, held, held, held, held]), 4)
    // A dribbler's streams finished together and were asked again between two looks.
    assert.equal(await watch([held, held, gap, held, held, held, held]), 5)
  })

  test('two looks in a row with nothing waiting, a window no longer small, or a backed-up socket start the count again; nothing waiting, the socket is not read', async () => {
    assert.equal(await watch([held, held, held, gap, gap, held, held, held, held]), undefined)
    assert.equal(await watch([held, held, held, held, { pending: true, small: false }, held, held, held]), undefined)
    assert.equal(await watch([held, held, held, held, { pending: true, backedUp: true }, held, held, held]), undefined)
    // Nothing waiting at all: a small-window client that holds nothing.
    assert.equal(await watch([gap, gap, gap, gap, gap, gap, gap]), undefined)
  })
})
