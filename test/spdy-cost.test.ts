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
import { IncomingMessage, ServerResponse } from 'node:http'
import { once } from 'node:events'
import express from 'express'
import type net from 'node:net'
import { Socket as NetSocket } from 'node:net'
import { startServer, ROOT } from './helpers/server.js'
import { RawH2Client, frame, frames, headerBlock, FRAME, END_HEADERS, END_STREAM, PRIORITY_FLAG } from './helpers/raw-h2.js'
import { installSpdyCompat } from '../index.js'
import { framerOwnContinuationFrame, framerOwnDataFrame, framerOwnFrame } from '../src/compat/spdy/one-buffer-frames.js'
import { encodeDirectly, encodeHeaderBlock, responseHeaders } from '../src/compat/spdy/direct-hpack.js'
import { parserOwnConsume } from '../src/compat/spdy/parse-steps.js'
import { quietLogger } from '../src/compat/spdy/quiet-debug.js'
import { type HpackTableModule, installIndexedLookup } from '../src/compat/spdy/hpack-index.js'
import { HeaderListTooLarge, HpackBlockDecoder, HpackError, type HpackDecodeTable } from '../src/compat/spdy/hpack-decode.js'

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

describe("spdy's debug loggers cost nothing unless DEBUG asks (quiet-debug.ts)", () => {
  test('a quiet logger passes on the arguments it was given, up to six and more, only while its logger is enabled', () => {
    const calls: unknown[][] = []
    const real = Object.assign(
      function real(this: unknown, ...args: unknown[]) {
        calls.push([this, ...args])
      },
      { enabled: false, namespace: 'spdy:test' },
    )
    const logger = quietLogger(real) as unknown as ((...args: unknown[]) => void) & { enabled: boolean; namespace: string }
    logger('id=%d', 1)
    assert.deepEqual(calls, [], 'nothing while disabled')
    logger.enabled = true
    assert.equal(real.enabled, true, 'enabled through the quiet logger turns the real one on')
    const self = { s: 1 }
    logger.call(self, 'id=%d side=%s wait for refill=%d [%d/%d]', 3, 'send', 10, 0, 65535)
    logger('no arguments')
    logger('id=%d', 0, null, false, '')
    logger('eight', 1, 2, 3, 4, 5, 6, 7)
    logger('given undefined last', 1, undefined)
    assert.deepEqual(calls, [
      [self, 'id=%d side=%s wait for refill=%d [%d/%d]', 3, 'send', 10, 0, 65535],
      [undefined, 'no arguments'],
      [undefined, 'id=%d', 0, null, false, ''],
      [undefined, 'eight', 1, 2, 3, 4, 5, 6, 7],
      [undefined, 'given undefined last', 1],
    ])
    assert.equal(logger.namespace, 'spdy:test')
  })

  test("the debug module is put back, and enabling spdy's namespaces at run time still logs spdy's frames and streams", async () => {
    installSpdyCompat()
    const transportPath = createRequire(require.resolve('spdy')).resolve('spdy-transport')
    const createDebug = createRequire(transportPath)('debug') as {
      (namespace: string): unknown
      enable(namespaces: string): void
      disable(): string
      log: (...args: unknown[]) => void
    }
    // Every other package gets debug's own factory, not the one spdy was loaded with.
    assert.equal(createDebug.name, 'createDebug')
    assert.equal(createDebug, require('debug'))
    const lines: string[] = []
    const log = createDebug.log
    const before = createDebug.disable()
    createDebug.log = (...args: unknown[]) => lines.push(util.format(...args))
    const running = await startServer(echoApp())
    try {
      const quiet = await echo(running.url, ['quiet'])
      assert.equal(quiet.body, 'quiet')
      assert.deepEqual(lines, [])
      createDebug.enable('spdy:stream:server,spdy:framer')
      const logged = await echo(running.url, ['logged'])
      assert.equal(logged.body, 'logged')
      assert.ok(
        lines.some((l) => /spdy:stream:server .*id=\d+/.test(l)),
        lines.slice(0, 5).join('\n'),
      )
      assert.ok(lines.some((l) => /spdy:framer/.test(l)))
      assert.ok(!lines.some((l) => /spdy:connection/.test(l)), 'only the enabled namespaces log')
    } finally {
      createDebug.disable()
      if (before) createDebug.enable(before)
      createDebug.log = log
      await running.close()
    }
  })
})

type TreeNode = {
  id: number
  weight: number
  parent: TreeNode | null
  priority: number
  children: { list: TreeNode[]; weight: number }
  remove(): void
  getPriority(): number
  getPriorityRange(): { from: number; to: number }
}
type Tree = {
  root: TreeNode
  count: number
  list: TreeNode[]
  defaultWeight: number
  add(o: { id: number; parent: number | null; weight?: number; exclusive?: boolean }): TreeNode
  addDefault(id: number): TreeNode
  get(id: number): TreeNode | undefined
}
type TreeClass = { create(options: { defaultWeight?: number; maxCount?: number }): Tree }

/** The tree's shape as ids, weights and shares, for comparing two trees. */
function shape(tree: Tree, ids: Iterable<number>) {
  return [...ids].map((id) => {
    const node = tree.get(id)
    return node && { id, parent: node.parent?.id, weight: node.weight, children: node.children.list.map((c) => c.id), share: node.getPriority() }
  })
}

describe("spdy's priority tree computes a stream's share when asked (light-priority.ts)", () => {
  installSpdyCompat()
  const transportPath = createRequire(require.resolve('spdy')).resolve('spdy-transport')
  const Light = (createRequire(transportPath)('spdy-transport') as { Priority: TreeClass }).Priority
  // spdy-transport's own tree, as it ships.
  const Original = createRequire(transportPath)('./spdy-transport/priority.js') as TreeClass

  test("spdy-transport's own priority tests pass on the light tree (shares to the last bit but one)", () => {
    assert.notEqual(Light, Original)
    let tree = Light.create({})
    tree.add({ id: 1, parent: 0, weight: 2 })
    tree.add({ id: 5, parent: 1, weight: 2 })
    tree.add({ id: 2, parent: 0, weight: 4 })
    tree.add({ id: 3, parent: 0, weight: 2 })
    tree.add({ id: 4, parent: 1, weight: 2 })
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((id) => tree.get(id)!.priority),
      [0.25, 0.5, 0.25, 0.125, 0.125],
    )
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((id) => tree.get(id)!.getPriorityRange()),
      [
        { from: 0, to: 0.25 },
        { from: 0.5, to: 1 },
        { from: 0.25, to: 0.5 },
        { from: 0, to: 0.125 },
        { from: 0.125, to: 0.25 },
      ],
    )
    // A node that depends on itself or on a stream the tree does not know depends on the root, default weight.
    tree = Light.create({})
    assert.equal(tree.add({ id: 1, parent: 1 }).parent!.id, 0)
    assert.equal(tree.add({ id: 1, parent: 3 }).weight, tree.defaultWeight)
    // Removal: the node goes, its children move to its parent.
    tree = Light.create({})
    const one = tree.add({ id: 1, parent: 0, weight: 2 })
    tree.add({ id: 5, parent: 1, weight: 2 })
    tree.add({ id: 2, parent: 0, weight: 4 })
    tree.add({ id: 3, parent: 0, weight: 2 })
    tree.add({ id: 4, parent: 1, weight: 2 })
    assert.equal(tree.count, 6)
    one.remove()
    assert.equal(tree.get(1), undefined)
    assert.equal(tree.count, 5)
    // spdy-transport's test expects 0.19999999999999996 for stream 5: its eager walk's rounding.
    const shares = [2, 3, 4, 5].map((id) => tree.get(id)!.priority)
    for (const [i, want] of [0.4, 0.2, 0.2, 0.2].entries()) assert.ok(Math.abs(shares[i]! - want) < 1e-15, `${shares}`)
    // An exclusive dependency takes over its parent's children.
    tree = Light.create({ maxCount: 6 })
    tree.add({ id: 1, parent: 0, weight: 2 })
    tree.add({ id: 2, parent: 0, weight: 2 })
    tree.add({ id: 3, parent: 1, weight: 4 })
    tree.add({ id: 4, parent: 1, weight: 2 })
    tree.add({ id: 5, parent: 1, weight: 2 })
    tree.add({ id: 6, parent: 1, exclusive: true, weight: 2 })
    // Past maxCount the oldest node goes.
    assert.equal(tree.get(1), undefined)
    assert.deepEqual(
      [2, 3, 4, 5, 6].map((id) => tree.get(id)!.priority),
      [0.5, 0.25, 0.125, 0.125, 0.5],
    )
    tree.add({ id: 7, parent: 5, exclusive: false, weight: 2 })
    tree.add({ id: 8, parent: 5, exclusive: false, weight: 2 })
    assert.equal(Light.create({}).add({ id: 1, parent: 0 }).weight, 16)
    tree = Light.create({})
    tree.addDefault(1)
    tree.get(1)!.remove()
    assert.equal(tree.list[0], undefined)
  })

  test("the same operations give spdy-transport's tree: the same shape, and the shares its eager walk arrives at", () => {
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return (seed >>> 16) % n
    }
    for (let run = 0; run < 20; run++) {
      const light = Light.create({})
      const original = Original.create({})
      const ids = new Set<number>()
      for (let step = 0; step < 200; step++) {
        const known = [...ids]
        if (known.length > 3 && random(4) === 0) {
          const id = known[random(known.length)]!
          light.get(id)!.remove()
          original.get(id)!.remove()
          ids.delete(id)
        } else {
          const id = 2 * step + 1
          const parent = random(5) === 0 ? 999_999 : random(3) === 0 || known.length === 0 ? 0 : known[random(known.length)]!
          const options = { id, parent, weight: 1 + random(256), exclusive: random(6) === 0 }
          light.add({ ...options })
          original.add({ ...options })
          ids.add(id)
        }
        // spdy-transport updates shares when a node is added, not when one is removed: bring
        // its tree up to date from the root, as its next addition would, before comparing.
        ;(original.root as unknown as { _updatePriority(from: number, to: number): void })._updatePriority(0, 1)
        const a = shape(light, ids)
        const b = shape(original, ids)
        assert.equal(light.count, original.count)
        for (const [i, node] of a.entries()) {
          const other = b[i]!
          assert.deepEqual({ ...node, share: 0 }, { ...other, share: 0 }, `run ${run} step ${step}`)
          assert.ok(Math.abs(node!.share - other.share) <= 1e-12, `run ${run} step ${step}: ${node!.share} vs ${other.share}`)
        }
      }
    }
  })

  test('past the limit the oldest node goes (spdy-transport evicted the newest), and PRIORITY frames over and over keep the tree bounded', () => {
    const tree = Light.create({ defaultWeight: 16, maxCount: 100 })
    for (let id = 1; id < 1000; id += 2) tree.addDefault(id)
    assert.equal(tree.count, 100)
    assert.equal(tree.root.children.list.length, 99)
    assert.equal(tree.get(801), undefined)
    assert.ok(tree.get(803) && tree.get(999))
    for (const node of tree.root.children.list) assert.ok(Math.abs(node.getPriority() - 1 / 99) < 1e-15)
    // A stream's PRIORITY frame removes its node and adds it again: the tree's queue stays bounded.
    for (let i = 0; i < 10_000; i++) {
      tree.get(999)!.remove()
      tree.add({ id: 999, parent: i % 2 ? 0 : 997, weight: 1 + (i % 200) })
      assert.ok(tree.list.length <= 3 * tree.count, `queue ${tree.list.length}`)
    }
    assert.equal(tree.count, 100)
    // An evicted node removed again (its stream's PRIORITY frame) is not counted out twice.
    const evicted = tree.get(803)!
    tree.addDefault(1001)
    assert.equal(tree.get(803), undefined)
    const share = evicted.getPriority()
    evicted.remove()
    assert.equal(tree.count, 100)
    assert.ok(share > 0 && share === evicted.getPriority())
  })

  test('on the wire: 200 streams in, a stream may still depend on one closed 20 streams before, and the tree stays at 100 nodes', async () => {
    const app = express()
    app.get('/node', (req, res) => {
      const spdyStream = (req as unknown as { spdyStream: { _spdyState: { priority: TreeNode }; connection: { _spdyState: { priorityRoot: Tree } } } })
        .spdyStream
      const node = spdyStream._spdyState.priority
      res.json({ parent: node.parent?.id, weight: node.weight, count: spdyStream.connection._spdyState.priorityRoot.count })
    })
    const running = await startServer(app)
    const c = await RawH2Client.connect(running.port)
    try {
      const block = headerBlock([
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'localhost'],
        [':path', '/node'],
      ])
      const withPriority = (id: number, dependsOn: number, weight: number) => {
        const payload = Buffer.alloc(5 + block.length)
        payload.writeUInt32BE(dependsOn, 0)
        payload[4] = weight - 1
        block.copy(payload, 5)
        return frame(FRAME.HEADERS, END_HEADERS | END_STREAM | PRIORITY_FLAG, id, payload)
      }
      const answers: { parent: number; weight: number; count: number }[] = []
      const dependsOn = (i: number) => (i >= 200 ? 2 * i + 1 - 40 : 0)
      for (let i = 0; i < 240; i++) {
        const id = 2 * i + 1
        c.write(withPriority(id, dependsOn(i), 1 + (i % 100)))
        assert.ok(await c.until(() => c.finished(id), 5000, `stream ${id}`))
        const body = Buffer.concat(c.frames.filter((f) => f.streamId === id && f.type === FRAME.DATA).map((f) => f.payload)).toString()
        answers.push(JSON.parse(body))
      }
      for (const [i, answer] of answers.entries()) {
        assert.equal(answer.weight, 1 + (i % 100))
        assert.equal(answer.parent, dependsOn(i), `stream ${2 * i + 1}`)
        assert.ok(answer.count <= 100)
      }
    } finally {
      c.socket.destroy()
      await running.close()
    }
  })
})

describe("spdy's HTTP/2 frames are rendered into one Buffer each (one-buffer-frames.ts)", () => {
  test("every kind of frame the framer writes comes out byte for byte as spdy-transport's own rendering (WriteBuffer, header blocks cut by OffsetBuffer), in one chunk", async () => {
    installSpdyCompat()
    const transportPath = createRequire(require.resolve('spdy')).resolve('spdy-transport')
    type Framer = Record<string, (...args: unknown[]) => void> & { _frame: unknown; schedule: unknown }
    const transport = createRequire(transportPath)('spdy-transport') as {
      Window: new (options: object) => unknown
      protocol: { http2: { framer: { create(options: object): Framer }; compressionPool: { create(): { get(version: number): unknown } } } }
    }
    const http2 = transport.protocol.http2
    const make = (own: boolean) => {
      const framer = http2.framer.create({
        window: new transport.Window({ id: 0, isServer: true, recv: { size: 1024 * 1024 }, send: { size: 1024 * 1024 } }),
      })
      framer['setCompression']!(http2.compressionPool.create().get(4))
      framer['setVersion']!(4)
      if (own) {
        framer._frame = framerOwnFrame()
        framer['_continuationFrame'] = framerOwnContinuationFrame() as Framer[string]
        framer['dataFrame'] = framerOwnDataFrame() as Framer[string]
      }
      const frames: { chunks: number; bytes: Buffer }[] = []
      framer.schedule = (toWrite: { chunks: Buffer[] }) => frames.push({ chunks: toWrite.chunks.length, bytes: Buffer.concat(toWrite.chunks) })
      return { framer, frames }
    }
    const ours = make(false)
    const theirs = make(true)
    assert.equal(typeof framerOwnFrame(), 'function')
    assert.notEqual(ours.framer._frame, theirs.framer._frame)
    assert.notEqual(ours.framer['dataFrame'], theirs.framer['dataFrame'])
    const big = 'v'.repeat(40_000)
    const calls: [string, ...unknown[]][] = [
      ['dataFrame', { id: 1, priority: 0, fin: false, data: Buffer.alloc(1000, 7) }],
      ['dataFrame', { id: 1, priority: 0, fin: true, data: Buffer.alloc(0) }],
      // One frame's worth and less (one frame each), and more (cut into frames of at most 16 KB).
      ['dataFrame', { id: 3, priority: 0.5, fin: true, data: Buffer.from('x') }],
      ['dataFrame', { id: 3, priority: 0, fin: true, data: Buffer.alloc(16_384, 1) }],
      ['dataFrame', { id: 5, priority: 0, fin: false, data: Buffer.alloc(16_385, 2) }],
      ['dataFrame', { id: 5, priority: 0, fin: true, data: Buffer.alloc(40_000, 3) }],
      ['responseFrame', { id: 1, status: 200, headers: { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], 'x-\u00e9': '\u00e9\u20ac' } }],
      ['requestFrame', { id: 3, method: 'GET', path: '/', host: 'example.com', headers: {}, priority: { parent: 1, weight: 32, exclusive: true } }],
      ['headersFrame', { id: 1, headers: { 'x-trailer': 'yes' }, fin: true }],
      ['responseFrame', { id: 5, status: 200, headers: { 'x-big': big } }],
      [
        'pushFrame',
        { id: 1, promisedId: 2, path: '/p.css', host: 'example.com', method: 'GET', status: 200, headers: {}, response: { 'content-type': 'text/css' } },
      ],
      ['priorityFrame', { id: 7, priority: { parent: 3, weight: 10, exclusive: false } }],
      ['pingFrame', { opaque: Buffer.from('12345678'), ack: true }],
      ['rstFrame', { id: 1, code: 'CANCEL' }],
      ['settingsFrame', { max_concurrent_streams: 77, initial_window_size: 65_000, max_frame_size: 16_384 }],
      ['ackSettingsFrame'],
      ['windowUpdateFrame', { id: 0, delta: 1000 }],
      ['windowUpdateFrame', { id: 3, delta: -5 }],
      ['goawayFrame', { lastId: 7, code: 'PROTOCOL_ERROR', extra: 'closing \u0101' }],
      ['xForwardedFor', { host: '192.0.2.1' }],
    ]
    // One call at a time: the frames of each are compared, not how the layer orders frames of different calls.
    for (const [method, ...args] of calls) {
      ours.framer[method]!(...args, () => {})
      theirs.framer[method]!(...args, () => {})
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.ok(ours.frames.length >= calls.length, `${ours.frames.length} frames`)
    assert.deepEqual(
      ours.frames.map((f) => f.bytes.toString('hex')),
      theirs.frames.map((f) => f.bytes.toString('hex')),
    )
    // spdy-transport's own rendering is several chunks; ours is one per frame (the settings cache aside).
    assert.ok(ours.frames.every((f) => f.chunks === 1))
    assert.ok(theirs.frames.some((f) => f.chunks > 1))
    // The 40 KB header block went out as HEADERS and CONTINUATION frames of at most 16 KB.
    assert.ok(ours.frames.filter((f) => f.bytes[3] === 9).length >= 2)
  })
})

describe("spdy-transport's parser takes its steps with one bound callback (parse-steps.ts)", () => {
  test("frames in one chunk, in pieces, with header blocks and a partial DATA frame: pushed in the same order, interleaved with ticks and immediates as spdy-transport's own steps do", async () => {
    installSpdyCompat()
    const transportPath = createRequire(require.resolve('spdy')).resolve('spdy-transport')
    type Parser = import('node:stream').Transform & Record<string, unknown> & { skipPreface(): void; setCompression(pair: unknown): void }
    const transport = createRequire(transportPath)('spdy-transport') as {
      Window: new (options: object) => unknown
      protocol: { http2: { parser: { create(options: object): Parser }; compressionPool: { create(): { get(version: number): unknown } } } }
    }
    const http2 = transport.protocol.http2
    const block = (path: string) =>
      headerBlock([
        [':method', 'GET'],
        [':scheme', 'https'],
        [':authority', 'localhost'],
        [':path', path],
        ['x-a', path.repeat(3)],
      ])
    const input = Buffer.concat([
      frame(FRAME.HEADERS, END_HEADERS, 1, block('/a')),
      frame(FRAME.PING, 0, 0, Buffer.alloc(8, 1)),
      frame(FRAME.HEADERS, END_HEADERS, 3, block('/b')),
      frame(FRAME.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 1, 0])),
      frame(FRAME.DATA, 0, 1, Buffer.alloc(3000, 2)),
      frame(FRAME.HEADERS, END_HEADERS | END_STREAM, 5, block('/c')),
      frame(FRAME.DATA, END_STREAM, 1, Buffer.alloc(10, 3)),
    ])
    // The same bytes in one chunk, and cut so that frame heads and the DATA frame arrive in pieces.
    const cuts: number[][] = [[input.length], [5, 40, 41, 200, 1000, input.length], [100, 150, 160, input.length]]
    const run = async (own: boolean, cut: number[]) => {
      const parser = http2.parser.create({
        isServer: true,
        window: new transport.Window({ id: 0, isServer: true, recv: { size: 1024 * 1024 }, send: { size: 1024 * 1024 } }),
      })
      if (own) parser['_consume'] = parserOwnConsume()
      parser.skipPreface()
      parser.setCompression(http2.compressionPool.create().get(4))
      const log: string[] = []
      parser.on('data', (f: { type: string; id: number; data?: Buffer; headers?: Record<string, string> }) => {
        log.push(`${f.type} ${f.id}${f.data ? ` ${f.data.length}` : ''}${f.headers ? ` ${f.headers[':path']}` : ''}`)
        process.nextTick(() => log.push(`tick after ${f.type} ${f.id}`))
        setImmediate(() => log.push(`immediate after ${f.type} ${f.id}`))
      })
      parser.on('error', (err: Error) => log.push(`error ${err.message}`))
      let from = 0
      for (const to of cut) {
        parser.write(input.subarray(from, to))
        log.push(`wrote ${to}`)
        from = to
      }
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
      return log
    }
    for (const cut of cuts) {
      const ours = await run(false, cut)
      const theirs = await run(true, cut)
      assert.deepEqual(ours, theirs, `cut at ${cut.join(', ')}`)
      assert.equal(ours.filter((l) => /^(HEADERS|PING|WINDOW_UPDATE|DATA) /.test(l)).length >= 7, true, ours.join('\n'))
    }
  })
})

describe("END_STREAM on a response's last DATA frame (end-with-data.ts)", () => {
  test('res.end(body) is HEADERS and one DATA frame with END_STREAM; end() without a body, or with trailers, ends once as before; a large body arrives whole', {
    timeout: 20_000,
  }, async () => {
    const app = express()
    app.get('/one', (_req, res) => res.end('hello'))
    app.get('/later', (_req, res) => {
      res.write('a')
      setImmediate(() => res.end('b'))
    })
    app.get('/then-end', (_req, res) => {
      res.write('a')
      setImmediate(() => res.end())
    })
    app.get('/trailers', (_req, res) => {
      res.write('x')
      setImmediate(() => {
        res.addTrailers({ 'x-done': 'yes' })
        res.end()
      })
    })
    app.get('/big', (_req, res) => res.end(Buffer.alloc(200_000, 'z')))
    const running = await startServer(app)
    const c = await RawH2Client.connect(running.port)
    try {
      const shape = async (id: number, path: string) => {
        c.write(frames.request(id, path))
        assert.ok(await c.until(() => c.finished(id), 5000, path))
        return c.frames
          .filter((f) => f.streamId === id)
          .map((f) => `${f.name}${f.type === FRAME.DATA ? `(${f.payload.toString()})` : ''}${f.endStream ? ' END_STREAM' : ''}`)
      }
      assert.deepEqual(await shape(1, '/one'), ['HEADERS', 'DATA(hello) END_STREAM'])
      assert.deepEqual(await shape(3, '/later'), ['HEADERS', 'DATA(a)', 'DATA(b) END_STREAM'])
      // end() with nothing left to write: spdy-transport's empty DATA frame ends the stream.
      assert.deepEqual(await shape(7, '/then-end'), ['HEADERS', 'DATA(a)', 'DATA() END_STREAM'])
      const withTrailers = await shape(9, '/trailers')
      assert.deepEqual(withTrailers, ['HEADERS', 'DATA(x)', 'HEADERS END_STREAM'])
    } finally {
      c.socket.destroy()
    }
    const session = http2.connect(running.url, { rejectUnauthorized: false })
    try {
      const stream = session.request({ ':path': '/big' })
      let length = 0
      stream.on('data', (chunk: Buffer) => {
        assert.ok(chunk.every((b) => b === 0x7a))
        length += chunk.length
      })
      await once(stream, 'end')
      assert.equal(length, 200_000)
    } finally {
      session.close()
      await running.close()
    }
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
  test("a client's SETTINGS_HEADER_TABLE_SIZE, in its first SETTINGS and changed later (to 0 too): every response decodes with the headers the app set, on both transports, and on spdy hpack.js's own encoder never runs", async () => {
    installSpdyCompat()
    const hpack = createRequire(createRequire(require.resolve('spdy')).resolve('spdy-transport'))('hpack.js') as {
      compressor: { prototype: { _encodeHeader(header: object): void } }
    }
    const encodeHeader = hpack.compressor.prototype._encodeHeader
    let theirs = 0
    hpack.compressor.prototype._encodeHeader = function (this: unknown, header: object) {
      theirs++
      encodeHeader.call(this, header)
    }
    const app = express()
    app.get('/n/:n', (req, res) => {
      res.setHeader('x-n', req.params['n']!)
      res.setHeader('x-same', 'the same value on every response')
      res.send(`n${req.params['n']}`)
    })
    for (const transport of ['spdy', 'http2'] as const) {
      const running = await startServer(app, { transport })
      theirs = 0
      // As Chromium: 65 536 in the first SETTINGS.
      const session = http2.connect(running.url, { rejectUnauthorized: false, settings: { headerTableSize: 65536 } })
      try {
        const get = async (n: number) => {
          const s = session.request({ ':path': `/n/${n}` })
          const [headers] = (await once(s, 'response')) as [http2.IncomingHttpHeaders]
          let body = ''
          s.setEncoding('utf8')
          for await (const part of s) body += part
          return { headers, body }
        }
        // Each round's block after the change: the client's decoder (nghttp2) fails it (COMPRESSION_ERROR) unless it starts with the update.
        // Several sizes in a round: several SETTINGS between two responses, which the next block signals as its smallest
        // and its final size (RFC 7541 §4.2; the client's decoder fails a first update above the smallest).
        const rounds: number[][] = [[65536], [64], [0], [4096], [65536], [200, 100], [2000, 64], [100, 200], [64, 4096], [4096, 0, 300, 65536]]
        for (const [round, sizes] of rounds.entries()) {
          const size = sizes.join(' then ')
          if (round > 0) {
            // The server acknowledges each; its next response's block is encoded against the new sizes.
            const acked = sizes.map(
              (headerTableSize) => new Promise<void>((resolve, reject) => session.settings({ headerTableSize }, (err) => (err ? reject(err) : resolve()))),
            )
            await Promise.all(acked)
          }
          for (let n = 10 * round; n < 10 * round + 10; n++) {
            const { headers, body } = await Promise.race([
              get(n),
              new Promise<never>((_, reject) =>
                setTimeout(() => reject(new Error(`${transport}: no response to /n/${n} after SETTINGS_HEADER_TABLE_SIZE ${size}`)), 2000),
              ),
            ])
            assert.equal(headers[':status'], 200)
            assert.equal(headers['x-n'], String(n))
            assert.equal(headers['x-same'], 'the same value on every response')
            assert.equal(body, `n${n}`)
          }
        }
        assert.equal(theirs, 0, `${transport}: hpack.js's own encoder ran for a response`)
      } finally {
        session.destroy()
        await running.close()
      }
    }
    hpack.compressor.prototype._encodeHeader = encodeHeader
  })

  test("a framer on a server's compressor encodes header objects in one pass, byte for byte as spdy-transport and hpack.js do", async () => {
    installSpdyCompat()
    const transportPath = createRequire(require.resolve('spdy')).resolve('spdy-transport')
    type Framer = Record<string, (...args: unknown[]) => void> & { compress: object; schedule: unknown }
    const transport = createRequire(transportPath)('spdy-transport') as {
      Window: new (options: object) => unknown
      protocol: { http2: { framer: { create(options: object): Framer }; compressionPool: { create(): { get(version: number): unknown } } } }
    }
    const http2 = transport.protocol.http2
    const make = (direct: boolean) => {
      const framer = http2.framer.create({
        window: new transport.Window({ id: 0, isServer: true, recv: { size: 1024 * 1024 }, send: { size: 1024 * 1024 } }),
      })
      framer['setCompression']!(http2.compressionPool.create().get(4))
      framer['setVersion']!(4)
      framer['enablePush']!(true)
      if (direct) encodeDirectly(framer.compress)
      const frames: string[] = []
      framer.schedule = (toWrite: { chunks: Buffer[] }) => frames.push(Buffer.concat(toWrite.chunks).toString('hex'))
      return { framer, frames }
    }
    const ours = make(true)
    const theirs = make(false)
    type Compressor = { updateTableSize(size: number): void; _encodeHeader(header: object): void }
    const compressorOf = (framer: Framer) => (framer.compress as { stream: Compressor }).stream
    // hpack.js's own encoding, counted on our side: every block there is encoded directly.
    let theirEncoderOnOurs = 0
    const ourCompressor = compressorOf(ours.framer)
    const encodeHeader = ourCompressor._encodeHeader
    ourCompressor._encodeHeader = function (this: Compressor, header: object) {
      theirEncoderOnOurs++
      encodeHeader.call(this, header)
    }
    let seed = 5
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return (seed >>> 16) % n
    }
    const names = [
      'Content-Type',
      'content-length',
      'Set-Cookie',
      'cookie',
      'X-Powered-By',
      'Connection',
      'Host',
      'upgrade',
      ':path',
      'x-\u00e9',
      'vary',
      'etag',
    ]
    const values: unknown[] = ['text/html', 573, ['a=1', 'b=2'], 'keep-alive', '\u20ac', '', 'W/"x"', ['one'], true]
    const headerObject = () => Object.fromEntries(Array.from({ length: random(10) }, () => [names[random(names.length)]!, values[random(values.length)]]))
    for (let i = 0; i < 150; i++) {
      const id = 2 * i + 1
      // A client's SETTINGS_HEADER_TABLE_SIZE before the first block (Chromium's first SETTINGS has 65 536): hpack.js
      // holds a dynamic table size update for that block. (Later ones: the next test.)
      if (i === 0) for (const side of [ours, theirs]) compressorOf(side.framer).updateTableSize(65536)
      // Later changes, several between two blocks: the smallest and the final size go in front of the next block, on both paths.
      const later = ({ 50: [200, 100], 80: [64, 4096], 110: [0, 65536, 1000] } as Record<number, number[]>)[i]
      if (later) for (const side of [ours, theirs]) for (const size of later) compressorOf(side.framer).updateTableSize(size)
      const kind = random(3)
      const args =
        kind === 0
          ? ['responseFrame', { id, status: [200, 204, 404, 500][random(4)], headers: headerObject() }]
          : kind === 1
            ? ['headersFrame', { id, headers: headerObject(), fin: true }]
            : [
                'pushFrame',
                {
                  id,
                  promisedId: 2 * i + 2,
                  path: `/p${random(5)}.css`,
                  host: 'example.com',
                  method: 'GET',
                  status: 200,
                  headers: headerObject(),
                  response: headerObject(),
                },
              ]
      ours.framer[args[0] as string]!(args[1], () => {})
      theirs.framer[args[0] as string]!(args[1], () => {})
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.ok(ours.frames.length >= 150)
    assert.deepEqual(ours.frames, theirs.frames)
    assert.match(ours.frames[0]!, /^[0-9a-f]{18}3fe11f/, 'the first block starts with the dynamic table size update')
    // 0x20 | size for sizes under 31, 0x3f then the rest over 31 in 7-bit groups (RFC 7541 §5.1): 100 = 3f 45; 64 then 4 096 = 3f 21, 3f e1 1f; 0 then 1 000 = 20, 3f c9 07.
    for (const updates of ['3f45', '3f213fe11f', '203fc907']) {
      assert.ok(
        // A HEADERS frame's block starts after the frame header, a PUSH_PROMISE's after the promised stream id too.
        ours.frames.some((frame) => frame.slice(18).startsWith(updates) || (frame.slice(6, 8) === '05' && frame.slice(26).startsWith(updates))),
        `a block starts with the updates ${updates}`,
      )
    }
    assert.equal(theirEncoderOnOurs, 0, "hpack.js's own encoder ran on the direct side")

    // A response's own header table (responseHeaders), on a direct framer and on spdy-transport's way, as its getHeaders() copy.
    const res = new ServerResponse(new IncomingMessage(new NetSocket()))
    res.setHeader('Content-Type', 'text/plain')
    res.setHeader('Set-Cookie', ['a=1', 'b=2'])
    res.setHeader('Content-Length', 573)
    res.setHeader('X-Mixed-Case', 'Yes')
    res.setHeader('Connection', 'keep-alive')
    const before = ours.frames.length
    for (const [framer, headers] of [
      [ours.framer, responseHeaders(res)],
      [theirs.framer, responseHeaders(res)],
      [ours.framer, res.getHeaders()],
      [theirs.framer, res.getHeaders()],
    ] as const) {
      framer['responseFrame']!({ id: 1001, status: 200, headers }, () => {})
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.equal(ours.frames.length, before + 2)
    assert.deepEqual(ours.frames.slice(before), theirs.frames.slice(before))
  })

  test("header blocks come out byte for byte as hpack.js's Compressor encodes them, with the same dynamic table after", () => {
    const hpack = createRequire(createRequire(require.resolve('spdy')).resolve('spdy-transport'))('hpack.js') as {
      compressor: { create(options: object): { _table: { dynamic: unknown[]; size: number }; _encodeHeader(h: object): void; _encoder: unknown } }
      encoder: { create(): { render(): Buffer[] } }
      huffman: { encode: [number, number][] }
    }
    let seed = 11
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return (seed >>> 16) % n
    }
    const names = [':status', 'content-type', 'set-cookie', 'cookie', 'x-a', 'x-b', 'etag', 'content-length', 'x-\u00fc', 'x-long']
    const values = [
      '200',
      '404',
      'text/html; charset=utf-8',
      'a=b',
      '',
      '\u00e9t\u00e9',
      '\u20ac and \u0101',
      'v'.repeat(300),
      'W/"1f-abc"',
      '12345',
      '\u0000\n\r\u0016\u00ff\u00fe~',
      '\u0101\u0a0a\u0d0d\u1616\uffff',
      'Mon, 07 Dec 2026 12:20:14 GMT',
    ]
    for (const tableSize of [4096, 256, 0]) {
      const theirs = hpack.compressor.create({ table: { maxSize: tableSize } })
      const ours = hpack.compressor.create({ table: { maxSize: tableSize } })
      for (let block = 0; block < 200; block++) {
        const headers = Array.from({ length: 1 + random(12) }, () => {
          const name = names[random(names.length)]!
          return {
            name,
            value: name === 'x-long' ? 'x'.repeat(random(5000)) : values[random(values.length)]!,
            neverIndex: name === 'cookie' || name === 'set-cookie' || random(10) === 0,
            huffman: random(4) !== 0,
            ...(random(8) === 0 ? { incremental: false } : {}),
          }
        })
        theirs._encoder = hpack.encoder.create()
        for (const header of headers) theirs._encodeHeader(header)
        const expected = Buffer.concat((theirs._encoder as { render(): Buffer[] }).render())
        theirs._encoder = null
        const got = encodeHeaderBlock(ours._table as never, headers, hpack.huffman.encode)
        assert.equal(got.toString('hex'), expected.toString('hex'), `table ${tableSize}, block ${block}`)
        assert.deepEqual(ours._table.dynamic, theirs._table.dynamic)
        assert.equal(ours._table.size, theirs._table.size)
      }
    }
  })

  test("the indexed lookup answers as hpack.js's search does, through adds, evictions and size updates, and names and values of Object.prototype's are not static (hpack-index.ts)", () => {
    type Table = {
      dynamic: unknown[]
      size: number
      lookupDepth: number
      reverseLookup(n: string, v: string): number
      add(n: string, v: string, ns: number, vs: number): void
      updateSize(size: number): void
    }
    const hpack = createRequire(createRequire(require.resolve('spdy')).resolve('spdy-transport'))('hpack.js') as HpackTableModule & {
      table: { create(options: object): Table }
    }
    const { original } = installIndexedLookup(hpack)
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return (seed >>> 16) % n
    }
    // Static names (with and without static values), new names, and names hpack.js's plain objects answer from Object.prototype.
    const names = [':status', 'content-type', 'etag', 'cache-control', 'x-a', 'x-b', 'x-c', 'x-d', 'constructor', 'toString', '__proto__']
    const values = ['200', '404', 'gzip, deflate', 'text/html', 'a', 'b', 'c', '', 'constructor', '__proto__', 'hasOwnProperty', 'x'.repeat(90)]
    const inherited = new Set([...Object.getOwnPropertyNames(Object.prototype), '__proto__'])
    const staticMap = hpack['static-table'].map
    const searched = (table: Table, name: string, value: string): number => {
      const known = Object.hasOwn(staticMap, name) ? staticMap[name] : undefined
      if (known && Object.hasOwn(known.values, value)) return known.values[value]!
      const dynamic = table.dynamic as { name: string; value: string }[]
      const length = 61 + dynamic.length
      for (let i = dynamic.length - 1; i >= Math.max(0, dynamic.length - table.lookupDepth); i--) {
        if (dynamic[i]!.name !== name) continue
        if (dynamic[i]!.value === value) return length - i
        if (known) break
        return -(length - i)
      }
      return known ? -known.index : 0
    }
    let lookups = 0
    let hits = 0
    let nameHits = 0
    for (const [maxSize, lookupDepth] of [
      [4096, 32],
      [512, 32],
      [300, 3],
      [0, 32],
    ] as const) {
      const ours = hpack.table.create({ maxSize, lookupDepth })
      const theirs = hpack.table.create({ maxSize, lookupDepth })
      for (let step = 0; step < 3000; step++) {
        const name = names[random(names.length)]!
        const value = values[random(values.length)]!
        const op = random(20)
        if (op < 8) {
          ours.add(name, value, name.length, value.length)
          ;(original.add as Table['add']).call(theirs, name, value, name.length, value.length)
        } else if (op === 8) {
          const size = random(maxSize + 1)
          ours.updateSize(size)
          theirs.updateSize(size)
        } else {
          const got = ours.reverseLookup(name, value)
          const where = `table ${maxSize}/${lookupDepth}, step ${step}: ${name}: ${value}`
          // hpack.js's search, with the static table read by own properties only.
          assert.equal(got, searched(ours, name, value), where)
          // And hpack.js's own answer wherever its plain objects do not answer from Object.prototype.
          if (!inherited.has(name) && !inherited.has(value)) {
            assert.equal(got, (original.reverseLookup as Table['reverseLookup']).call(theirs, name, value), where)
          }
          lookups++
          if (got > 61) hits++
          if (got < -61) nameHits++
        }
        assert.deepEqual(ours.dynamic, theirs.dynamic)
      }
    }
    // Every kind of answer came up: full and name-only matches in the dynamic table.
    assert.ok(lookups > 5000 && hits > 100 && nameHits > 500, `${lookups} lookups, ${hits} full and ${nameHits} name matches in the dynamic table`)
  })

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

describe('request header blocks are decoded a byte at a time (hpack-decode.ts)', () => {
  type Table = HpackDecodeTable & { dynamic: { name: string; value: string }[]; size: number; maxSize: number }
  type Decompressor = { _table: Table; _decoder: { push(b: Buffer): void; isEmpty(): boolean }; _execute(): void; push(field: unknown): boolean }
  const hpack = createRequire(createRequire(require.resolve('spdy')).resolve('spdy-transport'))('hpack.js') as {
    compressor: { create(options: object): { write(headers: object[]): void; read(): Buffer | null; updateTableSize(size: number): void } }
    decompressor: { create(options: object): Decompressor }
    huffman: { encode: [number, number][] }
  }
  const decoder = new HpackBlockDecoder(hpack.huffman.encode)
  /** hpack.js's own decoding of a whole block, as spdy-transport's parser did it. */
  const theirs = (decompressor: Decompressor, block: Buffer): { name: string; value: string }[] => {
    const fields: { name: string; value: string }[] = []
    const push = decompressor.push
    decompressor.push = (field) => {
      const { name, value } = field as { name: string; value: string }
      fields.push({ name, value })
      return true
    }
    try {
      decompressor._decoder.push(block)
      while (!decompressor._decoder.isEmpty()) decompressor._execute()
    } finally {
      decompressor.push = push
    }
    return fields
  }

  test("RFC 7541's request examples (C.3 without Huffman, C.4 with it) decode to the RFC's header lists and table sizes, on one table each", () => {
    const lists = [
      [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com'],
      [':method: GET', ':scheme: http', ':path: /', ':authority: www.example.com', 'cache-control: no-cache'],
      [':method: GET', ':scheme: https', ':path: /index.html', ':authority: www.example.com', 'custom-key: custom-value'],
    ]
    const sizes = [57, 110, 164]
    const examples = {
      'C.3': ['828684410f7777772e6578616d706c652e636f6d', '828684be58086e6f2d6361636865', '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'],
      'C.4': ['828684418cf1e3c2e5f23a6ba0ab90f4ff', '828684be5886a8eb10649cbf', '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'],
    }
    for (const [section, blocks] of Object.entries(examples)) {
      const table = hpack.decompressor.create({ table: { maxSize: 4096 } })._table
      blocks.forEach((hex, i) => {
        const fields = decoder.decode(table, Buffer.from(hex, 'hex'), 65536)
        assert.deepEqual(
          fields.map((f) => `${f.name}: ${f.value}`),
          lists[i],
          `${section}.${i + 1}`,
        )
        assert.equal(table.size, sizes[i], `${section}.${i + 1}: table size`)
      })
    }
  })

  test("blocks from hpack.js's Compressor, and the same blocks damaged, decode as hpack.js's Decompressor decodes them: the same fields and table, or an error from both", () => {
    let seed = 5
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return (seed >>> 16) % n
    }
    // Every byte value in names and values (every Huffman code), short and long strings, static and new names.
    const text = (length: number, anyByte: boolean) => Array.from({ length }, () => String.fromCharCode(anyByte ? random(256) : 97 + random(26))).join('')
    const names = [':method', ':path', ':authority', 'accept', 'cookie', 'user-agent', 'x-a', 'x-b']
    const counts = { whole: 0, damagedAccepted: 0, damagedRejected: 0, sizeUpdates: 0 }
    for (let connection = 0; connection < 400; connection++) {
      const maxSize = [4096, 256, 100][connection % 3]!
      const compressor = hpack.compressor.create({ table: { maxSize } })
      const reference = hpack.decompressor.create({ table: { maxSize } })
      const ours = hpack.decompressor.create({ table: { maxSize } })
      for (let n = 0; n < 12; n++) {
        if (random(10) === 0) {
          compressor.updateTableSize(random(maxSize + 1))
          counts.sizeUpdates++
        }
        const headers = Array.from({ length: 1 + random(8) }, () => ({
          name: random(4) > 0 ? names[random(names.length)]! : text(1 + random(20), false),
          value: text(random(4) === 0 ? random(300) : random(40), random(2) === 0),
          huffman: random(4) > 0,
          neverIndex: random(6) === 0,
        }))
        compressor.write(headers)
        const chunks: Buffer[] = []
        for (let chunk = compressor.read(); chunk; chunk = compressor.read()) chunks.push(chunk)
        let block = Buffer.concat(chunks)
        const damaged = random(4) === 0
        if (damaged) {
          block = Buffer.from(block)
          for (let k = 1 + random(3); k > 0; k--) block[random(block.length)] = random(256)
          if (random(3) === 0) block = block.subarray(0, random(block.length))
        }
        const where = `connection ${connection}, block ${n}: ${block.toString('hex')}`
        let expected: { name: string; value: string }[] | Error
        let got: { name: string; value: string }[] | Error
        try {
          expected = theirs(reference, block)
        } catch (err) {
          expected = err as Error
        }
        try {
          got = decoder.decode(ours._table, block, 1 << 20)
        } catch (err) {
          got = err as Error
        }
        if (expected instanceof Error || got instanceof Error) {
          assert.ok(expected instanceof Error && got instanceof HpackError, `${where}: hpack.js ${String(expected)}, ours ${String(got)}`)
          assert.match(got.message, /^HPACK: .+, at byte \d+ of a \d+-byte header block$/)
          counts.damagedRejected++
          break
        }
        assert.deepEqual(got, expected, where)
        assert.deepEqual(
          ours._table.dynamic.map((e) => [e.name, e.value]),
          reference._table.dynamic.map((e) => [e.name, e.value]),
          where,
        )
        assert.equal(ours._table.size, reference._table.size, where)
        if (damaged) {
          counts.damagedAccepted++
          break
        }
        counts.whole++
      }
    }
    assert.ok(counts.whole > 1000 && counts.damagedAccepted > 100 && counts.damagedRejected > 100 && counts.sizeUpdates > 100, JSON.stringify(counts))
  })

  test('the Huffman machine decodes every byte, and refuses EOS, padding of 8 bits or more, and padding that is not all ones (RFC 7541 §5.2)', () => {
    const codes = hpack.huffman.encode
    /** A literal field without indexing, new name "x", whose value is the given bits (MSB first) as a Huffman string. */
    const withHuffmanValue = (bits: string): Buffer => {
      const bytes = Buffer.alloc(Math.ceil(bits.length / 8))
      for (let i = 0; i < bits.length; i++) if (bits[i] === '1') bytes[i >> 3]! |= 0x80 >> (i & 7)
      assert.ok(bytes.length < 127)
      return Buffer.concat([Buffer.from([0x00, 0x01, 0x78, 0x80 | bytes.length]), bytes])
    }
    const code = (symbol: number) => codes[symbol]![1].toString(2).padStart(codes[symbol]![0], '0')
    const decode = (block: Buffer) => decoder.decode(hpack.decompressor.create({ table: { maxSize: 4096 } })._table, block, 65536)
    for (let symbol = 0; symbol < 256; symbol++) {
      // Each byte alone, after a 5-bit code and before one, padded to the byte with ones.
      for (const bits of [code(symbol), code(48) + code(symbol) + code(49)]) {
        const padded = bits + '1'.repeat((8 - (bits.length % 8)) % 8)
        const expected = bits === code(symbol) ? String.fromCharCode(symbol) : `0${String.fromCharCode(symbol)}1`
        assert.deepEqual(decode(withHuffmanValue(padded)), [{ name: 'x', value: expected }], `byte ${symbol}`)
      }
    }
    // Long values: past the decoder's kept scratch buffer (16 KB), then short ones again.
    const compressor = hpack.compressor.create({ table: { maxSize: 4096 } })
    for (const value of ['ab'.repeat(10_000), 'x-'.repeat(20_000), 'short', `${'\u00ff'.repeat(9000)}z`]) {
      compressor.write([{ name: 'x', value, huffman: true, neverIndex: true }])
      const chunks: Buffer[] = []
      for (let chunk = compressor.read(); chunk; chunk = compressor.read()) chunks.push(chunk)
      assert.deepEqual(decode(Buffer.concat(chunks)), [{ name: 'x', value }], `${value.length} characters`)
    }
    const refused: [string, string][] = [
      ['EOS', code(97) + code(256) + '1'],
      ['14 bits of padding', code(48) + code(48) + '1'.repeat(14)],
      ['padding with a 0', code(97) + '110'],
    ]
    for (const [what, bits] of refused) {
      const padded = bits + '1'.repeat((8 - (bits.length % 8)) % 8)
      assert.throws(
        () => decode(withHuffmanValue(padded)),
        (err: Error) => err instanceof HpackError && /Huffman/.test(err.message),
        what,
      )
      assert.throws(() => theirs(hpack.decompressor.create({ table: { maxSize: 4096 } }), withHuffmanValue(padded)), Error, `hpack.js refuses ${what} too`)
    }
  })

  test('malformed blocks are refused with what and where: indexes, integers, strings and size updates', () => {
    const decode = (hex: string) => decoder.decode(hpack.decompressor.create({ table: { maxSize: 4096 } })._table, Buffer.from(hex, 'hex'), 65536)
    // Accepted: a size update of 4096 (31 + 97 + 31 × 128), of 31 with four continuation bytes; a field with an empty raw value.
    assert.deepEqual(decode('3fe11f'), [])
    assert.deepEqual(decode('3f80808000'), [])
    assert.deepEqual(decode('20000178' + '00'), [{ name: 'x', value: '' }])
    const refused: [string, string, RegExp][] = [
      ['80', 'an indexed field of index 0', /index 0 \(RFC 7541 section 6\.1\), at byte 0 of a 1-byte/],
      ['be', 'index 62 of an empty dynamic table', /index 62, past the table's 61 entries, at byte 0/],
      ['8286ff0f', 'a large index', /index 142, past the table's 61 entries, at byte 2 of a 4-byte/],
      ['3f8080808000', 'an integer of five continuation bytes', /an integer of more than 4 continuation bytes, at byte 0/],
      ['3f80', 'an integer cut off', /an integer cut off by the end of the block, at byte 0/],
      ['00', 'a literal without its name', /a string missing at the end of the block, at byte 1/],
      ['000178', 'a literal without its value', /a string missing at the end of the block, at byte 3/],
      ['0001780561', 'a value longer than the block', /a string of 5 bytes, longer than the 1 left in the block, at byte 3/],
      ['8220', 'a size update after a field', /a dynamic table size update after a header field \(RFC 7541 section 4\.2\), at byte 1/],
      ['3fe21f', 'a size update above SETTINGS_HEADER_TABLE_SIZE', /a dynamic table size update to 4097, above SETTINGS_HEADER_TABLE_SIZE 4096/],
    ]
    for (const [hex, what, message] of refused) {
      assert.throws(
        () => decode(hex),
        (err: Error) => err instanceof HpackError && message.test(err.message),
        `${what}: ${hex}`,
      )
      // hpack.js itself takes a size update after a field (this layer refused it in a wrapper before).
      if (hex !== '8220')
        assert.throws(() => theirs(hpack.decompressor.create({ table: { maxSize: 4096 } }), Buffer.from(hex, 'hex')), Error, `hpack.js refuses ${what} too`)
    }
  })

  test('on the wire, both transports: a block cut into HEADERS and CONTINUATIONs inside an integer and inside a Huffman string reaches the app whole, its literals indexed for the next request', async () => {
    for (const transport of ['spdy', 'http2'] as const) {
      const app = express()
      app.get('/seen', (req, res) => res.json({ long: req.headers['x-long'], coded: req.headers['x-coded'], path: req.path }))
      const running = await startServer(app, { transport })
      const c = await RawH2Client.connect(running.port)
      try {
        const compressor = hpack.compressor.create({ table: { maxSize: 4096 } })
        const long = 'L'.repeat(300)
        const coded = 'text/css,*/*;q=0.1 gzip, deflate, br'
        const block = (path: string): Buffer => {
          compressor.write([
            { name: ':method', value: 'GET' },
            { name: ':scheme', value: 'https' },
            { name: ':authority', value: 'localhost' },
            { name: ':path', value: path },
            // Raw: its length (300) is a prefix byte and two more.
            { name: 'x-long', value: long, huffman: false },
            { name: 'x-coded', value: coded, huffman: true },
          ])
          const chunks: Buffer[] = []
          for (let chunk = compressor.read(); chunk; chunk = compressor.read()) chunks.push(chunk)
          return Buffer.concat(chunks)
        }
        const first = block('/seen')
        // Cut one byte into x-long's value length (its raw name, then 0x7f), and 5 bytes before the end: inside
        // x-coded's Huffman-coded value, the block's last field (x-coded's name is Huffman-coded too).
        const longAt = first.indexOf(Buffer.from('x-long', 'latin1')) + 'x-long'.length + 1
        const codedAt = first.length - 5
        assert.ok(first[longAt - 1] === 0x7f && codedAt > longAt + 2 + long.length + 10, first.toString('hex'))
        c.write(
          frames.headers(1, first.subarray(0, longAt), { endStream: true, endHeaders: false }),
          frames.continuation(1, first.subarray(longAt, codedAt), false),
          frames.continuation(1, first.subarray(codedAt)),
        )
        // The second request's x-long and x-coded are indexes into the dynamic table the first filled.
        const second = block('/seen')
        assert.ok(second.length < 10, `the second block is indexes only: ${second.toString('hex')}`)
        c.write(frames.headers(3, second, { endStream: true }))
        assert.ok(
          await c.until(() => c.finished(1) && c.finished(3), 5000, 'both responses'),
          `${transport}: ${c.frames.map((f) => `${f.name} ${f.streamId} ${f.payload.subarray(0, 80).toString('hex')}`).join(' | ')}`,
        )
        for (const id of [1, 3]) {
          const body = Buffer.concat(
            c
              .on(id)
              .filter((f) => f.type === FRAME.DATA)
              .map((f) => f.payload),
          ).toString()
          assert.deepEqual(JSON.parse(body), { long, coded, path: '/seen' }, `${transport}, stream ${id}`)
        }
      } finally {
        c.socket.destroy()
        await running.close()
      }
    }
  })

  test('a header list over the limit stops decoding at the field that passes it: a small block of references to one large entry (an HPACK bomb)', () => {
    const table = hpack.decompressor.create({ table: { maxSize: 4096 } })._table
    // One 4 000-byte entry ("b": v…), then 1 000 references to it (index 62): 4 MB of header list from a 5 KB block.
    const value = 'v'.repeat(4000)
    const literal = Buffer.concat([Buffer.from([0x40, 0x01, 0x62, 0x7f, 0x80 | ((4000 - 127) % 128), (4000 - 127) >> 7]), Buffer.from(value, 'latin1')])
    const bomb = Buffer.concat([literal, Buffer.alloc(1000, 0xbe)])
    assert.throws(
      () => decoder.decode(table, bomb, 65536),
      (err: Error) => err instanceof HeaderListTooLarge && /over 65536 bytes/.test(err.message),
    )
    assert.equal(table.dynamic.length, 1)
    assert.equal(table.dynamic[0]!.value, value)
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

/** Opens a session to `url`, runs `use`, closes it. */
async function withSession<T>(url: string, use: (session: http2.ClientHttp2Session) => Promise<T>): Promise<T> {
  const session = http2.connect(url, { rejectUnauthorized: false })
  session.on('error', () => {})
  try {
    return await use(session)
  } finally {
    session.close()
  }
}

async function readAll(stream: http2.ClientHttp2Stream): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer }> {
  const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders]
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return { headers, body: Buffer.concat(chunks) }
}

describe('HTTP/2 requests without a per-stream socket (direct-requests.ts)', () => {
  test("the app sees the same request as over spdy's socket: fields, headers in order, addresses, TLS, spdy's own members", async () => {
    const app = express()
    app.get('/seen', (req, res) => {
      const socket = req.socket as net.Socket & { encrypted?: boolean; alpnProtocol?: string; getPeerCertificate?: () => object }
      res.json({
        method: req.method,
        url: req.originalUrl,
        httpVersion: req.httpVersion,
        rawHeaders: req.rawHeaders,
        host: req.hostname,
        ip: req.ip,
        secure: req.secure,
        protocol: req.protocol,
        encrypted: socket.encrypted,
        alpn: socket.alpnProtocol,
        localPort: socket.localPort,
        remotePort: typeof socket.remotePort,
        peerCertificate: typeof socket.getPeerCertificate?.(),
        isSpdy: (req as { isSpdy?: boolean }).isSpdy,
        spdyStream: typeof (req as { spdyStream?: { id: number } }).spdyStream?.id,
        sameConnection: req.connection === req.socket,
        push: typeof (res as { push?: unknown }).push,
        // No per-stream net.Socket, HTTP/1 parser or handle any more.
        netSocket: req.socket instanceof NetSocket,
      })
    })
    const running = await startServer(app)
    try {
      const { port, host, hostname } = new URL(running.url)
      const seen = await withSession(running.url, async (session) => {
        const { body } = await readAll(session.request({ ':path': '/seen?a=1', 'x-one': '1', 'x-two': ['a', 'b'], cookie: 'c=1' }))
        return JSON.parse(body.toString()) as Record<string, unknown>
      })
      assert.deepEqual(seen, {
        method: 'GET',
        url: '/seen?a=1',
        httpVersion: '1.1',
        rawHeaders: ['host', host, 'x-one', '1', 'x-two', 'a, b', 'cookie', 'c=1'],
        host: hostname,
        ip: seen['ip'],
        secure: true,
        protocol: 'https',
        encrypted: true,
        alpn: 'h2',
        localPort: Number(port),
        remotePort: 'number',
        peerCertificate: 'object',
        isSpdy: true,
        spdyStream: 'number',
        sameConnection: true,
        push: 'function',
        netSocket: false,
      })
      assert.match(String(seen['ip']), /^(::ffff:)?127\.0\.0\.1$/)
    } finally {
      await running.close()
    }
  })

  test("events as Node's server gives them: a finished exchange, and a client's reset before the response", async () => {
    const events: string[] = []
    let heldRes: express.Response | undefined
    const app = express()
    const record = (req: express.Request, res: express.Response, tag: string): void => {
      for (const e of ['aborted', 'end', 'close'] as const) req.on(e, () => events.push(`${tag} req ${e}`))
      for (const e of ['finish', 'close'] as const) res.on(e, () => events.push(`${tag} res ${e}`))
      req.resume()
    }
    app.get('/done', (req, res) => {
      record(req, res, 'done')
      res.end('ok')
    })
    app.get('/held', (req, res) => {
      record(req, res, 'held')
      heldRes = res
      res.write('open')
    })
    const running = await startServer(app)
    try {
      await withSession(running.url, async (session) => {
        await readAll(session.request({ ':path': '/done' }))
        const held = session.request({ ':path': '/held' })
        await once(held, 'data')
        held.close(http2.constants.NGHTTP2_CANCEL)
        for (let i = 0; i < 100 && !events.includes('held res close'); i++) await new Promise((r) => setTimeout(r, 10))
      })
      assert.deepEqual(events.filter((e) => e.startsWith('done')).sort(), ['done req close', 'done req end', 'done res close', 'done res finish'])
      // Reset before the response ended: the request is aborted, the response closes and never finishes.
      assert.deepEqual(
        events.filter((e) => e.startsWith('held')),
        ['held req end', 'held req aborted', 'held req close', 'held res close'].filter((e) => events.includes(e)),
      )
      assert.ok(events.includes('held res close'), events.join(', '))
      assert.ok(!events.includes('held res finish'), events.join(', '))
      assert.ok(heldRes?.destroyed, 'the held response is destroyed')
      assert.equal(heldRes?.write('more'), false, 'a write after the reset goes nowhere')
    } finally {
      await running.close()
    }
  })

  test('a 4 MB upload read slowly arrives whole; the server holds no more of it than the windows allow', async () => {
    const app = express()
    let buffered = 0
    app.post('/slow', (req, res) => {
      const chunks: Buffer[] = []
      req.pause()
      setTimeout(() => {
        // What reached the request while nobody read it: bounded by flow control, not the 4 MB sent.
        buffered = req.readableLength
        req.on('data', (c: Buffer) => chunks.push(c))
        req.on('end', () => res.end(`${Buffer.concat(chunks).length} ${Buffer.concat(chunks).readUInt32BE(4 * 1024 * 1024 - 4)}`))
        req.resume()
      }, 300)
    })
    const running = await startServer(app)
    try {
      const body = Buffer.alloc(4 * 1024 * 1024)
      for (let i = 0; i < body.length; i += 4) body.writeUInt32BE(i, i)
      const answer = await withSession(running.url, async (session) => {
        const stream = session.request({ ':method': 'POST', ':path': '/slow' })
        stream.end(body)
        return (await readAll(stream)).body.toString()
      })
      assert.equal(answer, `${body.length} ${body.length - 4}`)
      assert.ok(buffered < 1024 * 1024, `${buffered} bytes buffered in the request`)
    } finally {
      await running.close()
    }
  })

  test("a 4 MB body piped to the response waits for 'drain' and arrives whole", async () => {
    const { Readable } = await import('node:stream')
    const app = express()
    let drains = 0
    app.get('/big', (_req, res) => {
      res.on('drain', () => drains++)
      let sent = 0
      Readable.from(
        (function* () {
          while (sent < 4 * 1024 * 1024) {
            const chunk = Buffer.alloc(64 * 1024, sent / (64 * 1024))
            sent += chunk.length
            yield chunk
          }
        })(),
      ).pipe(res)
    })
    const running = await startServer(app)
    try {
      const body = await withSession(running.url, async (session) => (await readAll(session.request({ ':path': '/big' }))).body)
      assert.equal(body.length, 4 * 1024 * 1024)
      for (let i = 0; i < 64; i++) assert.equal(body[i * 64 * 1024], i, `chunk ${i}`)
      assert.ok(drains > 0, 'the response emitted drain')
    } finally {
      await running.close()
    }
  })

  test('res.setTimeout fires on a held request, and a timeout nobody handles resets the stream; Expect: 100-continue gets its 100 first', async () => {
    const app = express()
    app.get('/wait', (_req, res) => {
      res.setTimeout(150, () => res.end('timed out'))
    })
    app.get('/unhandled', (req) => {
      // As Node's server: a complete request's own 'timeout' is not emitted, and with no listener the socket is destroyed.
      req.setTimeout(100)
    })
    app.post('/continue', express.text({ type: '*/*' }), (req, res) => {
      res.end(`got ${String(req.body)}`)
    })
    const running = await startServer(app)
    try {
      await withSession(running.url, async (session) => {
        assert.equal((await readAll(session.request({ ':path': '/wait' }))).body.toString(), 'timed out')
        const unhandled = session.request({ ':path': '/unhandled' })
        unhandled.on('error', () => {})
        await once(unhandled, 'close')
        assert.equal(unhandled.rstCode, http2.constants.NGHTTP2_CANCEL)
        const stream = session.request({ ':method': 'POST', ':path': '/continue', expect: '100-continue', 'content-type': 'text/plain' })
        await once(stream, 'continue')
        stream.end('body')
        assert.equal((await readAll(stream)).body.toString(), 'got body')
      })
    } finally {
      await running.close()
    }
  })
})
