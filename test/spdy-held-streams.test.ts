/**
 * What a held spdy stream keeps was made smaller (held-streams.ts, light-windows.ts,
 * direct-requests.ts: fast listener tables, shared 'close' and 'overflow' handlers, no
 * Timeout until one is set, no spare CorkedRequest, refill queues made on demand).
 * Behaviour is as before: real spdy servers on port 0 over TLS, real node:http2 clients
 * (raw frames where node:http2 cannot send them).
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { once } from 'node:events'
import { setFlagsFromString } from 'node:v8'
import type { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import express from 'express'
import { startServer } from './helpers/server.js'
import { RawH2Client, frame, frames, headerBlock, FRAME, ERROR, END_HEADERS, END_STREAM, PRIORITY_FLAG } from './helpers/raw-h2.js'
import { settles } from './helpers/wait.js'
import { HELD_PERIOD_MS } from '../src/compat/spdy/held-streams.js'
import { guardOf } from '../src/compat/spdy/guarded-connection.js'
import type { SpdyConnection } from '../src/compat/spdy/internals.js'

/** Long enough for a request held since now to be compacted: one to two periods. */
const heldLong = () => new Promise((r) => setTimeout(r, 2 * HELD_PERIOD_MS + 40))

interface Held {
  req: IncomingMessage
  res: ServerResponse
  events: string[]
}

type SpdyStream = EventEmitter & { id: number; connection: { _spdyState: { stream: { count: number; map: Record<string, unknown> } } } }

function spdyStreamOf(req: IncomingMessage): SpdyStream {
  return (req as unknown as { spdyStream: SpdyStream }).spdyStream
}

function connect(url: string, settings: http2.Settings = {}): http2.ClientHttp2Session {
  const session = http2.connect(url, { rejectUnauthorized: false, settings: { enablePush: false, ...settings } })
  session.on('error', () => {})
  return session
}

/** An app whose `/hold` requests are answered with headers only and kept, with the events they saw. */
function holdingApp(held: Held[]) {
  const app = express()
  app.get('/hold', (req, res) => {
    const events: string[] = []
    const stream = spdyStreamOf(req)
    req.on('aborted', () => events.push('req aborted'))
    req.on('close', () => events.push('req close'))
    res.on('close', () => events.push('res close'))
    req.socket.on('close', () => events.push('socket close'))
    // After the layer's own 'close' listener: the socket is closed by then.
    stream.on('close', () => events.push(`stream close (socket destroyed: ${req.socket.destroyed})`))
    held.push({ req, res, events })
    res.writeHead(200, { 'x-held': '1' })
    res.flushHeaders()
  })
  return app
}

describe('held spdy streams: listener tables (held-streams.ts)', () => {
  test("a held request's stream, socket and response have their events as before, and no event is a member of Object.prototype", async () => {
    const seen: Record<string, unknown>[] = []
    const held: Held[] = []
    const app = holdingApp(held)
    app.get('/tables', (req, res) => {
      const stream = spdyStreamOf(req)
      // (Not `req`: Node's Readable starts its table as an object literal, on every transport.)
      const emitters: Record<string, EventEmitter> = { stream, socket: req.socket, res }
      const inherited: string[] = []
      for (const [name, emitter] of Object.entries(emitters)) {
        for (const event of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf']) {
          if (emitter.listenerCount(event) !== 0 || emitter.emit(event)) inherited.push(`${name} ${event}`)
        }
      }
      let heard = 0
      res.on('toString', () => heard++)
      res.on('__proto__', () => heard++)
      res.emit('toString')
      res.emit('__proto__')
      res.removeAllListeners('toString')
      seen.push({
        inherited,
        heard,
        toStringAfterRemoval: res.listenerCount('toString'),
        streamEvents: ['data', 'end', 'close', 'error', 'drain', 'headers', 'finish'].filter((e) => stream.listenerCount(e) === 0),
        socketEvents: ['close', 'error', 'timeout'].filter((e) => req.socket.listenerCount(e) === 0),
        rawHeaders: req.rawHeaders,
      })
      res.json({ ok: true })
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const tables = session.request({ ':path': '/tables', 'x-one': '1' })
      tables.resume()
      await once(tables, 'end')
      assert.deepEqual(seen, [
        {
          inherited: [],
          heard: 2,
          toStringAfterRemoval: 0,
          streamEvents: [],
          socketEvents: [],
          rawHeaders: ['host', `127.0.0.1:${running.port}`, 'x-one', '1'],
        },
      ])
      const hold = session.request({ ':path': '/hold' })
      hold.on('error', () => {})
      const [headers] = (await once(hold, 'response')) as [http2.IncomingHttpHeaders]
      assert.equal(headers['x-held'], '1')
      await settles(() => held.length === 1, 'the held request')
      hold.close(http2.constants.NGHTTP2_CANCEL)
      await settles(() => held[0]!.events.length === 5, 'the events of the reset')
      assert.deepEqual([...held[0]!.events].sort(), ['req aborted', 'req close', 'res close', 'socket close', 'stream close (socket destroyed: true)'])
    } finally {
      session.destroy()
      await running.close()
    }
  })

  test("the connection forgets each closed stream once and every other 'close' listener still runs: 100 held streams reset by the client and 50 answered ones leave none, and 50 more are not refused", async () => {
    const held: Held[] = []
    const app = holdingApp(held)
    app.get('/done', (_req, res) => res.send('done'))
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const streams = Array.from({ length: 100 }, () => {
        const s = session.request({ ':path': '/hold' })
        s.on('error', () => {})
        return s
      })
      await Promise.all(streams.map((s) => once(s, 'response')))
      const connection = spdyStreamOf(held[0]!.req).connection._spdyState.stream
      assert.equal(connection.count, 100)
      for (const s of streams) s.close(http2.constants.NGHTTP2_CANCEL)
      await settles(() => held.every((h) => h.events.includes('req close')), 'every held request closed')
      await settles(() => connection.count === 0, `the connection's stream count at 0 (${connection.count})`)
      assert.equal(Object.keys(connection.map).length, 0)
      const answered = await Promise.all(
        Array.from({ length: 50 }, async () => {
          const s = session.request({ ':path': '/done' })
          s.setEncoding('utf8')
          let body = ''
          for await (const chunk of s) body += chunk as string
          return body
        }),
      )
      assert.deepEqual(new Set(answered), new Set(['done']))
      await settles(() => connection.count === 0, `the connection's stream count at 0 after the answered ones (${connection.count})`)
      assert.equal(Object.keys(connection.map).length, 0)
    } finally {
      session.destroy()
      await running.close()
    }
  })
})

describe('held spdy streams: flow-control windows (light-windows.ts)', () => {
  test("a WINDOW_UPDATE past 2^31-1 on one held stream resets that stream only (FLOW_CONTROL_ERROR), each stream's own", async () => {
    const held: Held[] = []
    const running = await startServer(holdingApp(held))
    const c = await RawH2Client.connect(running.port)
    try {
      c.write(frames.request(1, '/hold'), frames.request(3, '/hold'), frames.request(5, '/hold'))
      await c.until((f) => [1, 3, 5].every((id) => f.some((x) => x.type === FRAME.HEADERS && x.streamId === id)), 5000, 'three responses')
      c.write(frames.windowUpdate(3, 2 ** 31 - 1 - 65_535))
      await c.ping()
      c.write(frames.windowUpdate(3, 1))
      const reset = await c.reset(3)
      assert.equal(reset?.errorCode, ERROR.FLOW_CONTROL_ERROR)
      await c.ping()
      // (Then RST_STREAM(CANCEL) as the request is destroyed: as before these changes.)
      assert.deepEqual(new Set(c.of(FRAME.RST_STREAM).map((f) => f.streamId)), new Set([3]), 'only stream 3 is reset')
      assert.equal(c.of(FRAME.GOAWAY).length, 0, 'the connection goes on')
      const byId = (id: number) => held.find((h) => spdyStreamOf(h.req).id === id)!
      await settles(() => byId(3).events.includes('req close'), "stream 3's request closed")
      assert.equal(byId(1).events.length, 0)
      assert.equal(byId(5).events.length, 0)
      // The other streams' windows are their own: stream 5 overflows by itself.
      c.write(frames.windowUpdate(5, 2 ** 31 - 1 - 65_535), frames.windowUpdate(5, 1))
      assert.equal((await c.reset(5))?.errorCode, ERROR.FLOW_CONTROL_ERROR)
      await c.ping()
      assert.deepEqual(new Set(c.of(FRAME.RST_STREAM).map((f) => f.streamId)), new Set([3, 5]))
      assert.equal(byId(1).events.length, 0)
    } finally {
      c.destroy()
      await running.close()
    }
  })

  test("responses larger than the client's stream window wait for its WINDOW_UPDATEs and arrive whole, in order, written in many chunks or corked", async () => {
    const app = express()
    const chunk = (i: number) => `${String(i).padStart(6, '0')}:${'x'.repeat(993)}\n`
    const expected = Array.from({ length: 300 }, (_, i) => chunk(i)).join('')
    app.get('/chunks', (_req, res) => {
      res.type('text/plain')
      for (let i = 0; i < 300; i++) res.write(chunk(i))
      res.end()
    })
    app.get('/corked', (_req, res) => {
      res.type('text/plain')
      let i = 0
      const batch = (): void => {
        res.cork()
        for (const end = i + 30; i < end; i++) res.write(chunk(i))
        res.uncork()
        if (i < 300) setImmediate(batch)
        else res.end()
      }
      batch()
    })
    const running = await startServer(app)
    // A small stream window: the server's send side waits on it many times per response.
    const session = connect(running.url, { initialWindowSize: 4096 })
    try {
      const bodies = await Promise.all(
        ['/chunks', '/corked', '/chunks', '/corked'].map(async (path) => {
          const s = session.request({ ':path': path })
          s.setEncoding('utf8')
          let body = ''
          for await (const part of s) body += part as string
          return body
        }),
      )
      for (const body of bodies) {
        assert.equal(body.length, expected.length)
        assert.equal(body, expected)
      }
    } finally {
      session.close()
      await running.close()
    }
  })
})

describe('held spdy streams: timeouts (held-streams.ts)', () => {
  test('a held request times out once given a timeout, not before; setTimeout(0) clears it; a request with none stays held', async () => {
    const timedOut: string[] = []
    const app = express()
    // On the response: a complete request's 'timeout' is not emitted (as Node's HTTP/1 server does).
    app.get('/timeout', (_req, res) => {
      res.writeHead(200)
      res.flushHeaders()
      res.setTimeout(150, () => {
        timedOut.push('/timeout')
        res.end('timed out')
      })
    })
    app.get('/cleared', (_req, res) => {
      res.writeHead(200)
      res.flushHeaders()
      res.setTimeout(100, () => timedOut.push('/cleared'))
      res.setTimeout(0)
    })
    app.get('/none', (_req, res) => {
      res.writeHead(200)
      res.flushHeaders()
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const open = (path: string) => {
        const s = session.request({ ':path': path })
        s.on('error', () => {})
        s.setEncoding('utf8')
        return s
      }
      const none = open('/none')
      const cleared = open('/cleared')
      const since = performance.now()
      const timeout = open('/timeout')
      let body = ''
      for await (const part of timeout) body += part as string
      assert.equal(body, 'timed out')
      assert.ok(performance.now() - since >= 140, `timed out after ${(performance.now() - since).toFixed(0)} ms`)
      await new Promise((r) => setTimeout(r, 400))
      assert.deepEqual(timedOut, ['/timeout'])
      assert.equal(none.closed, false)
      assert.equal(cleared.closed, false)
      none.close(http2.constants.NGHTTP2_CANCEL)
      cleared.close(http2.constants.NGHTTP2_CANCEL)
    } finally {
      session.destroy()
      await running.close()
    }
  })
})

/** V8's own answers on object layout (the natives are enabled for functions compiled after this). */
function natives(): { sameMap(a: object, b: object): boolean; fast(o: object): boolean } {
  setFlagsFromString('--allow-natives-syntax')
  return {
    sameMap: new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean,
    fast: new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean,
  }
}

function outHeadersOf(res: ServerResponse): object {
  const symbol = Object.getOwnPropertySymbols(res).find((s) => s.description === 'kOutHeaders')!
  return (res as unknown as Record<symbol, object>)[symbol]!
}

describe('held spdy streams: the request and response objects (direct-messages.ts, held-streams.ts)', () => {
  test('requests Express re-prototyped and the app then listened to share one map (a listener added after Express gives none a map of its own)', async () => {
    const v8 = natives()
    const held: IncomingMessage[] = []
    const app = express()
    app.get('/hold', (req, res) => {
      req.on('close', () => {})
      held.push(req)
      res.writeHead(200)
      res.flushHeaders()
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      for (let i = 0; i < 3; i++) {
        const s = session.request({ ':path': '/hold' })
        s.on('error', () => {})
        await once(s, 'response')
      }
      await settles(() => held.length === 3, 'the held requests')
      assert.equal(Object.getPrototypeOf(held[0]), app.request, 'Express re-prototyped the request')
      assert.equal(held[0]!.listenerCount('close'), held[2]!.listenerCount('close'))
      assert.ok(v8.sameMap(held[1]!, held[2]!), 'two held requests share a map')
      assert.ok(v8.sameMap(held[0]!, held[2]!), 'two held requests share a map')
    } finally {
      session.destroy()
      await running.close()
    }
  })

  test("a held response's header table is a fast object once it has been held a while; headers read, set and removed after that as before, and one with more than 16 keeps Node's", async () => {
    const v8 = natives()
    const held: ServerResponse[] = []
    const app = express()
    app.get('/hold/:count', (req, res) => {
      for (let i = 0; i < Number(req.params['count']); i++) res.setHeader(`x-h${i}`, `${i}`)
      if (req.query['late'] === undefined) {
        res.writeHead(200)
        res.flushHeaders()
      }
      held.push(res)
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const open = async (path: string) => {
        const s = session.request({ ':path': path })
        s.on('error', () => {})
        const [headers] = (await once(s, 'response')) as [http2.IncomingHttpHeaders]
        return { s, headers }
      }
      const later = session.request({ ':path': '/hold/2?late' })
      later.on('error', () => {})
      await settles(() => held.length === 1, 'the response held before its headers')
      const small = await open('/hold/12')
      const large = await open('/hold/20')
      assert.equal(small.headers['x-h11'], '11')
      assert.equal(large.headers['x-h19'], '19')
      await settles(() => held.length === 3, 'the held responses')
      await heldLong()
      const [unsent, res, many] = held as [ServerResponse, ServerResponse, ServerResponse]
      assert.ok(v8.fast(outHeadersOf(unsent)), 'the table of a response held before its headers is fast')
      assert.ok(v8.fast(outHeadersOf(res)), 'the held response header table is fast')
      assert.ok(!v8.fast(outHeadersOf(many)), "22 headers keep Node's dictionary")
      assert.equal(res.getHeader('x-h3'), '3')
      assert.equal(res.hasHeader('toString'), false)
      assert.equal(res.getHeader('constructor'), undefined)
      assert.deepEqual(res.getHeaderNames().slice(0, 3), ['x-powered-by', 'x-h0', 'x-h1'])
      assert.equal(Object.getPrototypeOf(res.getHeaders()), null)
      assert.equal(res.getHeaders()['x-h11'], '11')
      // x-powered-by, x-h0 … x-h11, and the Date writeHead adds.
      assert.equal(res.getHeaderNames().length, 14)
      assert.equal(res.getHeaderNames().at(-1), 'date')
      // Set and removed on the compacted table before the headers are sent.
      unsent.setHeader('x-late', 'set')
      unsent.removeHeader('x-h0')
      assert.equal(unsent.getHeader('x-late'), 'set')
      assert.equal(unsent.hasHeader('x-h0'), false)
      assert.deepEqual(unsent.getHeaderNames(), ['x-powered-by', 'x-h1', 'x-late'])
      unsent.end()
      const [laterHeaders] = (await once(later, 'response')) as [http2.IncomingHttpHeaders]
      assert.equal(laterHeaders['x-late'], 'set')
      assert.equal(laterHeaders['x-h1'], '1')
      assert.equal(laterHeaders['x-h0'], undefined)
      assert.equal(many.getHeaderNames().length, 22)
      // The held responses still end as before.
      res.end('small done')
      many.end('many done')
      for (const { s } of [small, large]) s.setEncoding('utf8')
      let body = ''
      for await (const part of small.s) body += part as string
      assert.equal(body, 'small done')
      body = ''
      for await (const part of large.s) body += part as string
      assert.equal(body, 'many done')
    } finally {
      session.destroy()
      await running.close()
    }
  })
})

interface PriorityNodeShape {
  id: number
  parent: PriorityNodeShape | null
  children: { size: number }
  getPriority(): number
}

describe('held spdy streams: the priority tree (light-priority.ts)', () => {
  test('held streams that are leaves share one empty set of children; a stream made the parent of others gets its own, and gives them to the root when a PRIORITY frame moves it', async () => {
    const streams = new Map<string, { _spdyState: { priority: PriorityNodeShape } }>()
    const nodeOf = (name: string) => streams.get(name)!._spdyState.priority
    const app = express()
    app.get('/hold/:name', (req, res) => {
      streams.set(req.params['name']!, spdyStreamOf(req) as unknown as { _spdyState: { priority: PriorityNodeShape } })
      res.writeHead(200)
      res.flushHeaders()
    })
    const running = await startServer(app)
    const c = await RawH2Client.connect(running.port)
    try {
      const open = async (id: number, name: string, dependsOn = 0, exclusive = false, weight = 16) => {
        const block = headerBlock([
          [':method', 'GET'],
          [':scheme', 'https'],
          [':authority', 'localhost'],
          [':path', `/hold/${name}`],
        ])
        const payload = Buffer.alloc(5 + block.length)
        payload.writeUInt32BE((dependsOn | (exclusive ? 0x80000000 : 0)) >>> 0, 0)
        payload[4] = weight - 1
        block.copy(payload, 5)
        c.write(frame(FRAME.HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, id, payload))
        assert.ok(await c.until(() => c.frames.some((f) => f.streamId === id && f.type === FRAME.HEADERS), 5000, `stream ${id}`))
      }
      await open(1, 'a')
      await open(3, 'c')
      await open(5, 'b', 1, true, 32)
      const [a, b, cNode] = ['a', 'b', 'c'].map(nodeOf) as [PriorityNodeShape, PriorityNodeShape, PriorityNodeShape]
      const root = a.parent!
      assert.equal(root.id, 0)
      assert.equal(b.parent, a)
      assert.equal(a.children.size, 1)
      assert.equal(b.children.size, 0)
      assert.equal(b.children, cNode.children, 'leaves share one empty set of children')
      assert.notEqual(a.children, cNode.children)
      assert.equal(b.getPriority(), a.getPriority())
      // c moves under a: a has two children, c's share is a's weighted.
      c.write(frames.priority(3, 1, 16))
      await settles(() => a.children.size === 2, 'c under a')
      assert.equal(nodeOf('c').parent, a)
      assert.ok(Math.abs(nodeOf('c').getPriority() - a.getPriority() * (16 / 48)) < 1e-12)
      // a moves to the root again: its children go to the root first, and it is a leaf.
      c.write(frames.priority(1, 0, 16))
      await settles(() => b.parent === root, 'b at the root')
      assert.equal(nodeOf('c').parent, root)
      assert.equal(nodeOf('a').parent, root)
      assert.equal(nodeOf('a').children, b.children, 'a leaf again: no children of its own')
      assert.equal(root.children.size, 3)
      assert.equal(
        c.frames.some((f) => f.type === FRAME.RST_STREAM || f.type === FRAME.GOAWAY),
        false,
      )
    } finally {
      c.socket.destroy()
      await running.close()
    }
  })
})

describe("held spdy streams: the stream's state (light-stream-state.ts)", () => {
  test("held streams read their connection's parser, window and protocol from one object per connection, and answer on their own connection; a value written on one stream is its own", async () => {
    type State = Record<string, unknown> & { _connectionShared?: object }
    type Conn = { _spdyState: Record<string, unknown> }
    const held: { res: ServerResponse; stream: SpdyStream & { _spdyState: State } }[] = []
    const app = express()
    app.get('/hold/:name', (req, res) => {
      held.push({ res, stream: spdyStreamOf(req) as SpdyStream & { _spdyState: State } })
      res.writeHead(200)
      res.flushHeaders()
    })
    const running = await startServer(app)
    const sessions = [connect(running.url), connect(running.url)]
    try {
      const streams = await Promise.all(
        sessions.flatMap((session, i) =>
          [0, 1].map(async (j) => {
            const s = session.request({ ':path': `/hold/${i}-${j}` })
            s.on('error', () => {})
            s.setEncoding('utf8')
            await once(s, 'response')
            return s
          }),
        ),
      )
      await settles(() => held.length === 4, 'the held requests')
      for (const { stream } of held) {
        const state = stream._spdyState
        const conn = stream.connection as unknown as Conn
        assert.equal(state['framer'], conn._spdyState['framer'])
        assert.equal(state['parser'], conn._spdyState['parser'])
        assert.equal(state['sessionWindow'], conn._spdyState['window'])
        assert.equal(state['protocol'], conn._spdyState['protocol'])
        assert.equal(state['constants'], (conn._spdyState['protocol'] as { constants: unknown }).constants)
        assert.equal(state['version'], 4)
        assert.equal(state['isServer'], true)
        assert.equal(typeof state['debug'], 'function')
        assert.deepEqual(
          Object.keys(state).filter((k) => ['parser', 'protocol', 'sessionWindow', 'isServer'].includes(k)),
          [],
        )
      }
      // The request's socket is found from the stream's state, not from a property added to the stream.
      for (const { res, stream } of held) {
        assert.equal(stream._spdyState['directSocket'], res.socket)
        assert.deepEqual(
          Object.getOwnPropertySymbols(stream)
            .map((s) => s.description)
            .filter((d) => d === 'StreamSocket'),
          [],
        )
      }
      const byConnection = new Map<unknown, object[]>()
      for (const { stream } of held) byConnection.set(stream.connection, [...(byConnection.get(stream.connection) ?? []), stream._spdyState._connectionShared!])
      assert.equal(byConnection.size, 2)
      const [first, second] = [...byConnection.values()] as [object[], object[]]
      assert.equal(first[0], first[1], "a connection's streams share one object")
      assert.notEqual(first[0], second[0])
      // A write gives that stream its own value, the others keep the connection's.
      const [one, other] = held.filter((h) => h.stream.connection === held[0]!.stream.connection) as [(typeof held)[0], (typeof held)[0]]
      const own = () => {}
      one.stream._spdyState['parser'] = own
      assert.equal(one.stream._spdyState['parser'], own)
      assert.notEqual(other.stream._spdyState['parser'], own)
      one.stream._spdyState['parser'] = other.stream._spdyState['parser']
      // Each response goes out on its own connection, to its own stream.
      for (const { res, stream } of held) res.end(`body of ${stream.id} on ${held.indexOf(held.find((h) => h.stream.connection === stream.connection)!)}`)
      const bodies = await Promise.all(
        streams.map(async (s) => {
          let body = ''
          for await (const part of s) body += part as string
          return body
        }),
      )
      const expected = held.map(({ stream }) => `body of ${stream.id} on ${held.indexOf(held.find((h) => h.stream.connection === stream.connection)!)}`)
      assert.deepEqual([...bodies].sort(), [...expected].sort())
      for (const [i, s] of streams.entries()) assert.ok(bodies[i]!.startsWith(`body of ${s.id} on`), `stream ${i}: ${bodies[i]}`)
    } finally {
      for (const s of sessions) s.destroy()
      await running.close()
    }
  })
})

describe("held spdy streams: readable-stream's states (held-stream-states.ts)", () => {
  test("a held stream's states keep their settings once, and it still reads a body sent later, writes past the window, and ends; a stream with a write in flight at the end of its turn keeps its states", async () => {
    type States = { _readableState: Record<string, unknown>; _writableState: Record<string, unknown> }
    const seen: Record<string, unknown>[] = []
    const app = express()
    let resumeLater = (): void => {}
    app.post('/later', (req, res) => {
      const stream = spdyStreamOf(req) as unknown as States
      res.writeHead(200)
      res.flushHeaders()
      // Not read until the whole body is in: its DATA wait in the stream's own buffer.
      req.pause()
      resumeLater = () => req.resume()
      void heldLong().then(() => {
        seen.push({
          path: 'later',
          readableOwn: Object.hasOwn(stream._readableState, 'highWaterMark'),
          writableOwn: Object.hasOwn(stream._writableState, 'decodeStrings'),
          highWaterMark: stream._readableState['highWaterMark'],
          decodeStrings: stream._writableState['decodeStrings'],
          constructors: [stream._readableState.constructor.name, stream._writableState.constructor.name],
          onwriteKept: Object.hasOwn(stream._writableState, 'onwrite') || stream._writableState['_onwrite'] !== null,
          bufferKept: Object.hasOwn(stream._readableState, 'buffer') || stream._readableState['_buffer'] !== null,
        })
      })
      const parts: Buffer[] = []
      req.on('data', (part: Buffer) => parts.push(part))
      req.on('end', () => {
        const body = Buffer.concat(parts)
        // Past the client's 65 535-byte stream window: the writes wait for WINDOW_UPDATEs.
        for (let i = 0; i < 3; i++) res.write(Buffer.alloc(40_000, 97 + i))
        res.end(`:${body.length}:${body.subarray(0, 5).toString()}`)
      })
    })
    app.get('/busy', (req, res) => {
      const stream = spdyStreamOf(req) as unknown as States
      res.writeHead(200)
      res.write(Buffer.alloc(200_000, 120))
      void heldLong().then(() => {
        seen.push({
          path: 'busy',
          readableOwn: Object.hasOwn(stream._readableState, 'highWaterMark'),
          writableOwn: Object.hasOwn(stream._writableState, 'decodeStrings'),
        })
        res.end()
      })
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const later = session.request({ ':path': '/later', ':method': 'POST' })
      later.on('error', () => {})
      await once(later, 'response')
      await settles(() => seen.length === 1, 'the held stream compacted')
      assert.deepEqual(seen[0], {
        path: 'later',
        readableOwn: false,
        writableOwn: false,
        highWaterMark: 16384,
        decodeStrings: true,
        constructors: ['ReadableState', 'WritableState'],
        onwriteKept: false,
        bufferKept: false,
      })
      // The body comes after the compaction, in parts.
      later.write(Buffer.alloc(30_000, 98))
      await new Promise((r) => setTimeout(r, 20))
      later.end(Buffer.alloc(30_000, 99))
      await new Promise((r) => setTimeout(r, 50))
      resumeLater()
      const chunks: Buffer[] = []
      for await (const part of later) chunks.push(part as Buffer)
      const body = Buffer.concat(chunks)
      assert.equal(body.length, 120_000 + ':60000:bbbbb'.length)
      assert.equal(
        body.subarray(0, 40_000).every((b) => b === 97),
        true,
      )
      assert.equal(
        body.subarray(80_000, 120_000).every((b) => b === 99),
        true,
      )
      assert.equal(body.subarray(120_000).toString(), ':60000:bbbbb')

      const busy = session.request({ ':path': '/busy' })
      busy.on('error', () => {})
      busy.pause()
      await once(busy, 'response')
      await settles(() => seen.length === 2, 'the busy stream seen')
      assert.deepEqual(seen[1], { path: 'busy', readableOwn: false, writableOwn: true })
      busy.resume()
      let length = 0
      for await (const part of busy) length += (part as Buffer).length
      assert.equal(length, 200_000)
    } finally {
      session.destroy()
      await running.close()
    }
  })
})

describe("held spdy streams: states at rest, request headers and 'close' listeners (held-stream-states.ts, guarded-connection.ts, held-streams.ts)", () => {
  type States = { _readableState: Record<string, unknown>; _writableState: Record<string, unknown> }

  test('a held GET stream at rest keeps only `sync` (and its stream) in its states and reads every other value as before; its first write gives its writable side every field again', async () => {
    const READ = ['ended', 'endEmitted', 'length', 'flowing', 'reading', 'destroyed', 'highWaterMark', 'objectMode'] as const
    const WRITE = ['length', 'writing', 'ending', 'ended', 'finished', 'corked', 'pendingcb', 'needDrain', 'bufferedRequest', 'highWaterMark'] as const
    const pick = (state: Record<string, unknown>, names: readonly string[]) => Object.fromEntries(names.map((n) => [n, state[n]]))
    const seen: object[] = []
    const app = express()
    app.get('/rest', (req, res) => {
      const stream = spdyStreamOf(req) as unknown as States & SpdyStream
      res.writeHead(200)
      res.flushHeaders()
      void heldLong().then(() => {
        const r = stream._readableState
        const w = stream._writableState
        seen.push({
          own: [Object.keys(r), Object.keys(w).sort()],
          constructors: [r.constructor.name, w.constructor.name],
          read: pick(r, READ),
          write: pick(w, WRITE),
        })
        // A field written on the idle state is kept when it wakes.
        w['x-written'] = 'kept'
        res.write('a')
        const woken = stream._writableState
        seen.push({
          woken: WRITE.filter((n) => n !== 'highWaterMark').every((n) => Object.hasOwn(woken, n)),
          constructor: woken.constructor.name,
          written: woken['x-written'],
          idle: woken === w,
        })
        res.end('b')
      })
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const rest = session.request({ ':path': '/rest' })
      rest.setEncoding('utf8')
      let body = ''
      for await (const part of rest) body += part as string
      assert.equal(body, 'ab')
      assert.equal(seen.length, 2)
      assert.deepEqual(seen[0], {
        own: [['sync'], ['_stream', 'sync']],
        constructors: ['ReadableState', 'WritableState'],
        read: { ended: true, endEmitted: true, length: 0, flowing: true, reading: false, destroyed: false, highWaterMark: 16384, objectMode: false },
        write: {
          length: 0,
          writing: false,
          ending: false,
          ended: false,
          finished: false,
          corked: 0,
          pendingcb: 0,
          needDrain: false,
          bufferedRequest: null,
          highWaterMark: 16384,
        },
      })
      assert.deepEqual(seen[1], { woken: true, constructor: 'WritableState', written: 'kept', idle: false })
    } finally {
      session.destroy()
      await running.close()
    }
  })

  test("the app's own 'close' listeners on a held stream stay after the joined one and all run: a `once` that removes itself mid-emit skips none after it", async () => {
    const calls: string[] = []
    const app = express()
    app.get('/hold', (req, res) => {
      const stream = spdyStreamOf(req)
      stream.once('close', () => calls.push('app once'))
      stream.on('close', () => calls.push('app on'))
      stream.once('close', () => calls.push('app once again'))
      res.writeHead(200)
      res.flushHeaders()
      void heldLong().then(() => calls.push(`held: ${stream.listeners('close')[0]!.name}, ${stream.listenerCount('close')} listeners`))
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const hold = session.request({ ':path': '/hold' })
      hold.on('error', () => {})
      await once(hold, 'response')
      await settles(() => calls.length === 1, 'the held request compacted')
      hold.close(http2.constants.NGHTTP2_CANCEL)
      await settles(() => calls.length === 4, "the app's 'close' listeners")
      assert.deepEqual(calls, ['held: joinedClose, 4 listeners', 'app once', 'app on', 'app once again'])
    } finally {
      session.destroy()
      await running.close()
    }
  })

  test("a request's header object is prototype-less, and in fast mode when its names are those of the connection's previous request, in order (a dictionary otherwise: a client's new names make no shapes)", async () => {
    const v8 = natives()
    const app = express()
    app.get('/names', (req, res) => {
      const headers = (spdyStreamOf(req) as unknown as { headers: Record<string, unknown> }).headers
      res.json({
        fast: v8.fast(headers),
        prototype: Object.getPrototypeOf(headers) === null,
        constructor: headers['constructor'] ?? null,
        names: Object.keys(headers).filter((n) => !n.startsWith(':')),
        request: Object.hasOwn(req.headers, 'constructor') ? req.headers['constructor'] : null,
      })
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const get = async (headers: http2.OutgoingHttpHeaders) => {
        const s = session.request({ ':path': '/names', ...headers })
        s.setEncoding('utf8')
        let body = ''
        for await (const part of s) body += part as string
        return JSON.parse(body) as Record<string, unknown>
      }
      const same = { 'x-a': '1', constructor: 'c' }
      const seen = [
        await get(same),
        await get({ 'x-a': '2', constructor: 'd' }),
        await get({ 'x-b': '1' }),
        await get({ 'x-b': '2' }),
        await get({ 'x-a': '1' }),
      ]
      const random = () => Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`x-${i}-${Math.random().toString(36).slice(2)}`, 'v']))
      const unique = [await get(random()), await get(random()), await get(random())]
      assert.deepEqual(seen, [
        { fast: false, prototype: true, constructor: 'c', names: ['x-a', 'constructor'], request: 'c' },
        { fast: true, prototype: true, constructor: 'd', names: ['x-a', 'constructor'], request: 'd' },
        { fast: false, prototype: true, constructor: null, names: ['x-b'], request: null },
        { fast: true, prototype: true, constructor: null, names: ['x-b'], request: null },
        { fast: false, prototype: true, constructor: null, names: ['x-a'], request: null },
      ])
      assert.deepEqual(
        unique.map((u) => [u['fast'], (u['names'] as string[]).length]),
        [
          [false, 16],
          [false, 16],
          [false, 16],
        ],
      )
    } finally {
      session.destroy()
      await running.close()
    }
  })

  test("a held stream's 'close' listeners become one function, and each still runs: the connection, the stream limit, the guard and the idle clock count a reset one and an ended one as closed", async () => {
    const held: Held[] = []
    const app = holdingApp(held)
    app.get('/done', (_req, res) => res.send('done'))
    const running = await startServer(app, { maxConcurrentStreams: 2, idleTimeout: 400 })
    const session = connect(running.url)
    let goaway = false
    session.on('goaway', () => {
      goaway = true
    })
    try {
      const streams = [0, 1].map(() => {
        const s = session.request({ ':path': '/hold' })
        s.on('error', () => {})
        return s
      })
      await Promise.all(streams.map((s) => once(s, 'response')))
      await settles(() => held.length === 2, 'both held requests')
      const before = spdyStreamOf(held[0]!.req).listeners('close').length
      await heldLong()
      const spdyStreams = held.map((h) => spdyStreamOf(h.req) as unknown as States & SpdyStream)
      // The layer's own (the app's listener, added by holdingApp after them, stays its own).
      assert.deepEqual(
        spdyStreams.map((s) => s.listeners('close').map((l) => l.name)),
        [0, 1].map(() => ['joinedClose', '']),
      )
      assert.ok(before >= 4, `${before} 'close' listeners before`)
      assert.deepEqual([Object.keys(spdyStreams[0]!._readableState), Object.keys(spdyStreams[0]!._writableState).sort()], [['sync'], ['_stream', 'sync']])

      streams[0]!.close(http2.constants.NGHTTP2_CANCEL)
      held[1]!.res.end('ended')
      let body = ''
      streams[1]!.setEncoding('utf8')
      for await (const part of streams[1]!) body += part as string
      assert.equal(body, 'ended')
      await settles(() => held[0]!.events.length === 5, 'the events of the reset')
      assert.deepEqual([...held[0]!.events].sort(), ['req aborted', 'req close', 'res close', 'socket close', 'stream close (socket destroyed: true)'])
      const connection = spdyStreams[0]!.connection as unknown as SpdyConnection
      await settles(() => connection._spdyState.stream.count === 0, 'the connection forgot both streams')
      assert.equal(guardOf(connection)?.openStreams, 0)
      // A second 'close' (spdy-transport can emit one after an abort) does not remove the stream from the connection again.
      console.log(
        'LISTENERS',
        spdyStreams[1]!.listeners('close').map((l) => String(l).slice(0, 60)),
        connection._spdyState.stream.count,
      )
      spdyStreams[1]!.emit('close')
      console.log('AFTER', connection._spdyState.stream.count)
      assert.equal(connection._spdyState.stream.count, 0)
      // Within the limit of two again: neither held stream is still counted.
      const answered = await Promise.all(
        [0, 1].map(async () => {
          const s = session.request({ ':path': '/done' })
          s.setEncoding('utf8')
          let text = ''
          for await (const part of s) text += part as string
          return text
        }),
      )
      assert.deepEqual(answered, ['done', 'done'])
      // And the idle clock, which counts them too, sees the connection idle.
      await settles(() => goaway, 'the idle GOAWAY', 3000)
    } finally {
      session.destroy()
      await running.close()
    }
  })
})

describe('held spdy streams: when they are compacted (held-streams.ts)', () => {
  test('a request that waits a few ms (a file read) ends as it was made; one held past two periods is compacted, and both answer whole', async () => {
    type States = { _readableState: Record<string, unknown>; _writableState: Record<string, unknown> }
    const seen: Record<string, boolean> = {}
    const app = express()
    app.get('/wait/:ms', (req, res) => {
      const stream = spdyStreamOf(req) as unknown as States
      const ms = Number(req.params['ms'])
      setTimeout(() => {
        // Its own settings still on its states: not compacted.
        seen[`${ms}`] = Object.hasOwn(stream._readableState, 'highWaterMark') && Object.hasOwn(stream._writableState, 'decodeStrings')
        res.setHeader('x-held', `${ms}`)
        res.end(`held ${ms} ms`)
      }, ms)
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const get = async (ms: number) => {
        const s = session.request({ ':path': `/wait/${ms}` })
        const [headers] = (await once(s, 'response')) as [http2.IncomingHttpHeaders]
        let body = ''
        s.setEncoding('utf8')
        for await (const part of s) body += part
        return { held: headers['x-held'], body }
      }
      const short = Math.floor(HELD_PERIOD_MS / 5)
      const long = 2 * HELD_PERIOD_MS + 40
      assert.deepEqual(await Promise.all([get(short), get(long)]), [
        { held: `${short}`, body: `held ${short} ms` },
        { held: `${long}`, body: `held ${long} ms` },
      ])
      assert.deepEqual(seen, { [short]: true, [long]: false })
    } finally {
      session.destroy()
      await running.close()
    }
  })
})

describe('held spdy streams: the cork queue (light-stream-state.ts)', () => {
  test('a held stream keeps no cork queue; a push made from it later queues its writes until its promise is out, and its response ends after', async () => {
    type State = { _corkQueue?: unknown; corkQueue: unknown[] }
    const held: { res: ServerResponse; state: State }[] = []
    const app = express()
    app.get('/hold', (req, res) => {
      res.writeHead(200)
      res.flushHeaders()
      held.push({ res, state: (spdyStreamOf(req) as unknown as { _spdyState: State })._spdyState })
    })
    const running = await startServer(app)
    const session = http2.connect(running.url, { rejectUnauthorized: false })
    session.on('error', () => {})
    const pushed: Promise<{ path: string; body: string }>[] = []
    session.on('stream', (push, headers) => {
      push.setEncoding('utf8')
      pushed.push(
        (async () => {
          let body = ''
          for await (const part of push) body += part as string
          return { path: String(headers[':path']), body }
        })(),
      )
    })
    try {
      const hold = session.request({ ':path': '/hold' })
      hold.on('error', () => {})
      hold.setEncoding('utf8')
      await once(hold, 'response')
      await settles(() => held.length === 1, 'the held request')
      await new Promise((r) => setImmediate(r))
      const { res, state } = held[0]!
      assert.equal(state._corkQueue, null, 'no cork queue kept')
      assert.deepEqual(state.corkQueue, [])
      for (const name of ['a', 'b']) {
        const push = (res as unknown as { push: (p: string, h: object) => NodeJS.WritableStream }).push(`/${name}.txt`, {
          request: { accept: '*/*' },
          response: { 'content-type': 'text/plain' },
        })
        push.on('error', () => {})
        push.write(`${name}1-`)
        push.write(`${name}2-`)
        push.end(`${name}3`)
      }
      res.end('held done')
      let body = ''
      for await (const part of hold) body += part as string
      assert.equal(body, 'held done')
      await settles(() => pushed.length === 2, 'both pushes')
      assert.deepEqual(
        (await Promise.all(pushed)).sort((x, y) => x.path.localeCompare(y.path)),
        [
          { path: '/a.txt', body: 'a1-a2-a3' },
          { path: '/b.txt', body: 'b1-b2-b3' },
        ],
      )
    } finally {
      session.destroy()
      await running.close()
    }
  })
})

describe("held spdy streams: the stream's 'end' listeners (direct-requests.ts)", () => {
  test("spdy-transport's and the request's 'end' listeners are one function: a request whose body ends after its response still ends, and its stream then closes", async () => {
    const seen: { stream: SpdyStream; endListeners: number; closed: boolean; body: string }[] = []
    const app = express()
    app.post('/early', (req, res) => {
      const entry = { stream: spdyStreamOf(req), endListeners: spdyStreamOf(req).listenerCount('end'), closed: false, body: '' }
      seen.push(entry)
      entry.stream.on('close', () => {
        entry.closed = true
      })
      res.end('early')
    })
    app.post('/late', (req, res) => {
      let body = ''
      req.setEncoding('utf8')
      req.on('data', (part: string) => {
        body += part
      })
      req.on('end', () => res.end(`got ${body}`))
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const early = session.request({ ':path': '/early', ':method': 'POST' })
      early.on('error', () => {})
      early.setEncoding('utf8')
      early.write('first part')
      let answer = ''
      early.on('data', (part: string) => {
        answer += part
      })
      await settles(() => answer === 'early', 'the response, before the body ends')
      await settles(() => seen.length === 1, 'the request')
      assert.equal(seen[0]!.endListeners, 1)
      assert.equal(seen[0]!.closed, false)
      await new Promise((r) => setTimeout(r, 30))
      early.end('rest')
      await settles(() => seen[0]!.closed, "the stream's close after its body ended")

      const late = session.request({ ':path': '/late', ':method': 'POST' })
      late.on('error', () => {})
      late.setEncoding('utf8')
      late.write('a')
      await new Promise((r) => setTimeout(r, 30))
      late.end('b')
      let body = ''
      for await (const part of late) body += part as string
      assert.equal(body, 'got ab')
    } finally {
      session.destroy()
      await running.close()
    }
  })
})

describe("held spdy streams: the socket's 'close' listeners (direct-requests.ts)", () => {
  test("Node's and the request's 'close' listeners on the socket are one function: a reset held request sees the response close, then its abort, then the app's socket listener; a finished one is not aborted", async () => {
    const events: Record<string, string[]> = {}
    const app = express()
    app.get('/hold/:name', (req, res) => {
      const name = req.params['name']!
      const seen: string[] = []
      events[name] = seen
      res.on('close', () => seen.push('res close'))
      req.on('aborted', () => seen.push('req aborted'))
      req.on('close', () => seen.push('req close'))
      req.socket.on('close', () => seen.push('socket close'))
      seen.push(`socket close listeners ${req.socket.listenerCount('close')}`)
      res.writeHead(200)
      res.flushHeaders()
      if (name === 'finished') setTimeout(() => res.end('done'), 20)
    })
    const running = await startServer(app)
    const session = connect(running.url)
    try {
      const reset = session.request({ ':path': '/hold/reset' })
      reset.on('error', () => {})
      await once(reset, 'response')
      const finished = session.request({ ':path': '/hold/finished' })
      finished.on('error', () => {})
      finished.resume()
      await once(finished, 'end')
      await new Promise((r) => setImmediate(r))
      reset.close(http2.constants.NGHTTP2_CANCEL)
      await settles(() => events['reset']!.length === 5 && events['finished']!.length === 4, 'the events')
      assert.deepEqual(events['reset'], ['socket close listeners 2', 'res close', 'req aborted', 'socket close', 'req close'])
      assert.deepEqual(events['finished'], ['socket close listeners 2', 'res close', 'req close', 'socket close'])
    } finally {
      session.destroy()
      await running.close()
    }
  })
})
