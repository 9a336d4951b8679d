/**
 * Warm-up: a few HTTP/2 connections through spdy and this layer, in memory, before a
 * server takes its first client.
 *
 * node:http2 parses and frames in C++ (nghttp2), so its first connections cost about what
 * its later ones do. spdy does all of it in JavaScript, and V8 compiles each function the
 * first time it runs and optimizes it only after it has run many times: a fresh spdy
 * server's first connection took 10 ms from its TLS handshake to its request in the app,
 * against 5.2 ms on node:http2, and its next ten 1.4 ms against 0.8 ms; with the warm-up,
 * 2.6 and 1.24 ms (`npm run bench:connection-setup`, bench/README.md). Those are the
 * connections a server takes right after it starts (a deploy, a restart, a scaled-out
 * instance), and a browser's page waits on each.
 *
 * So `createServer` runs this first, once per process (V8's compiled code serves every server
 * after): a private spdy server, made with the user's key, certificate, ALPN protocols,
 * limits and this package's request classes but a handler of its own, takes a few
 * connections from Node's own HTTP/2 client over an in-memory stream pair (TLS and all; no
 * port is opened). Each request carries a browser's set of headers (its user-agent says it
 * is the warm-up) and gets a 103, a body and, every second one, a pushed response. The
 * user's app, server and listeners see none of it (diagnostics channels of Node's HTTP/2
 * client do).
 *
 * It is best effort: a request that fails is counted, not thrown; an error or a stall ends
 * it (the server then starts colder, as it did before), and once it has returned nothing of
 * it runs: its connections are destroyed, and its server answers nothing more.
 */
import { Duplex } from 'node:stream'
import http2, { type ClientHttp2Session } from 'node:http2'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Server as HttpsServer, ServerOptions } from 'node:https'
import tls from 'node:tls'
import type { SpdyResponse, SpdyStream } from './internals.js'

/** How long a warm-up may take before it is given up (ms). */
export const WARM_UP_TIMEOUT_MS = 2000

export interface WarmUpOptions {
  /** Connections to make, one after another. */
  connections: number
  /** Requests on each connection (every second one pushes). */
  requests: number
  /** Requests open at once on a connection: at most the server's SETTINGS_MAX_CONCURRENT_STREAMS. */
  concurrency: number
  /** Regular header fields per request (at most 7): at most the server's limit on a header list less the 4 pseudo-headers. */
  fields: number
}

export interface WarmUpResult {
  /** Requests asked. */
  requests: number
  /** Requests answered whole (200 and their body). */
  answered: number
  /** 103 responses the client read. */
  hints: number
  /** Pushed responses the client read whole. */
  pushed: number
  /** Wall time (ms). */
  ms: number
  /** Why not every request was answered, if one was not. */
  error?: string
}

interface Destroyable {
  destroy(): void
}

/** One warm-up's state, shared by its connections and its server's handler. */
interface Run {
  readonly size: WarmUpOptions
  readonly result: WarmUpResult
  /** Every session, socket and stream pair made, destroyed when the run ends. */
  readonly open: Set<Destroyable>
  /** Set when the run ends: nothing starts after, and the server answers nothing more. */
  stopped: boolean
  firstFailure?: string
}

type CreateSpdyServer = (options: ServerOptions, listener: (req: IncomingMessage, res: ServerResponse) => void) => HttpsServer

/** A browser's request for a stylesheet (Chromium's fields), so HPACK's Huffman and table paths run; the user-agent says what it is. */
const REQUEST_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['user-agent', 'express-h2-push-warm-up (Mozilla/5.0; in-memory connection before the first client; never sent on a network)'],
  ['accept', 'text/css,*/*;q=0.1'],
  ['accept-encoding', 'gzip, deflate, br, zstd'],
  ['accept-language', 'en-US,en;q=0.9'],
  ['sec-fetch-dest', 'style'],
  ['sec-fetch-mode', 'no-cors'],
  ['sec-fetch-site', 'same-origin'],
]

/** A host that is never anyone's (RFC 6761). */
const AUTHORITY = 'warm-up.invalid'

const BODY = Buffer.alloc(2048, 'x')

/** Whether a warm-up in this process answered every request: V8's compiled code then serves every later server. */
let warmed = false

/** Whether this process has warmed spdy up already (then `createServer` does not again). */
export function spdyWarmedUp(): boolean {
  return warmed
}

/** Two connected in-memory Duplexes: what one writes, the other reads; destroying one closes the other, as a reset TCP connection. */
function duplexPair(): [Duplex, Duplex] {
  const sides: Duplex[] = []
  for (let i = 0; i < 2; i++) {
    const other = 1 - i
    sides.push(
      new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          sides[other]!.push(chunk)
          callback()
        },
        final(callback) {
          sides[other]!.push(null)
          callback()
        },
        destroy(err, callback) {
          sides[other]!.destroy()
          callback(err)
        },
      }),
    )
  }
  return [sides[0]!, sides[1]!]
}

/** The private server's handler: a 103, then (for `/push`) a push, then a body; nothing once the run has ended. */
function handler(run: Run): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (run.stopped) {
      res.destroy()
      return
    }
    try {
      respond(req, res)
    } catch {
      // The client sees the stream reset and counts the request as not answered.
      res.destroy()
    }
  }
}

function respond(req: IncomingMessage, res: ServerResponse): void {
  req.resume()
  ;(res as ServerResponse & { writeEarlyHints?(hints: Record<string, string>): void }).writeEarlyHints?.({ link: '</warm-up.css>; rel=preload; as=style' })
  const stream = (res as SpdyResponse).spdyStream as SpdyStream | undefined
  if (req.url === '/push' && stream && typeof stream.pushPromise === 'function') {
    stream.pushPromise({ path: '/warm-up.css', method: 'GET', status: 200, host: AUTHORITY, headers: {}, response: false }, (err, pushed) => {
      if (err || !pushed) return
      try {
        pushed.respond(200, { 'content-type': 'text/css', 'content-length': String(BODY.length) })
        pushed.end(BODY)
      } catch {
        pushed.destroy()
      }
    })
  }
  res.setHeader('content-type', 'text/html; charset=utf-8')
  res.setHeader('cache-control', 'no-store')
  res.end(BODY)
}

/** One request on `session`; calls `settled` once it is over, answered or not. */
function request(session: ClientHttp2Session, run: Run, index: number, settled: () => void): void {
  const headers: Record<string, string> = { ':path': index % 2 ? '/push' : '/' }
  for (const [name, value] of REQUEST_HEADERS.slice(0, run.size.fields)) headers[name] = value
  const req = session.request(headers)
  let status: unknown
  // A refused or reset request is counted as not answered; the others go on.
  req.on('error', (err: Error) => (run.firstFailure ??= err.message))
  req.on('headers', (h) => {
    if (h[':status'] === 103) run.result.hints++
  })
  req.once('response', (h) => (status = h[':status']))
  req.resume()
  req.once('end', () => {
    if (status === 200) run.result.answered++
    else run.firstFailure ??= status === undefined ? 'a request ended without a response' : `a request was answered ${String(status)}`
  })
  req.once('close', settled)
}

/** One connection: its requests, `concurrency` at a time, each read to its end; resolves when the connection has closed. */
function connection(server: HttpsServer, run: Run): Promise<void> {
  return new Promise((resolve, reject) => {
    const [serverSide, clientSide] = duplexPair()
    const socket = tls.connect({ socket: clientSide, ALPNProtocols: ['h2'], servername: AUTHORITY, rejectUnauthorized: false })
    const session = http2.connect(`https://${AUTHORITY}`, { createConnection: () => socket })
    for (const part of [session, socket, serverSide, clientSide]) run.open.add(part)
    server.emit('connection', serverSide)
    const { requests, concurrency } = run.size
    let started = 0
    let settled = 0
    session.once('error', (err) => reject(err))
    session.once('close', () =>
      settled === requests ? resolve() : reject(new Error(`the connection closed with ${requests - settled} of ${requests} requests open`)),
    )
    session.on('stream', (pushed) => {
      pushed.on('error', () => {})
      pushed.once('end', () => run.result.pushed++)
      pushed.resume()
    })
    const next = (): void => {
      if (run.stopped) return
      if (started < requests) request(session, run, started++, onSettled)
    }
    const onSettled = (): void => {
      if (++settled === requests) session.close()
      else next()
    }
    for (let i = 0; i < Math.min(concurrency, requests); i++) next()
  })
}

/**
 * Runs `size.connections` warm-up connections through a private spdy server made by `create`
 * with `options`. Never throws: failures and `timeoutMs` end it, reported in the result.
 */
export async function warmUpSpdy(create: CreateSpdyServer, options: ServerOptions, size: WarmUpOptions, timeoutMs = WARM_UP_TIMEOUT_MS): Promise<WarmUpResult> {
  const start = performance.now()
  const run: Run = { size, result: { requests: size.connections * size.requests, answered: 0, hints: 0, pushed: 0, ms: 0 }, open: new Set(), stopped: false }
  let timer: NodeJS.Timeout | undefined
  try {
    const server = create(options, handler(run))
    server.on('secureConnection', (socket: Destroyable) => (run.stopped ? socket.destroy() : run.open.add(socket)))
    server.on('tlsClientError', () => {})
    server.on('error', () => {})
    const connections = (async () => {
      for (let i = 0; i < size.connections && !run.stopped; i++) {
        const before = run.result.answered
        await connection(server, run)
        // A connection that answered nothing: the next would not either.
        if (run.result.answered === before) break
      }
    })()
    // After a timeout, the connection still running may fail: nothing waits for it then.
    connections.catch(() => {})
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not done after ${timeoutMs} ms`)), timeoutMs)
    })
    await Promise.race([connections, expired])
  } catch (err) {
    run.firstFailure = (err as Error).message
  } finally {
    run.stopped = true
    clearTimeout(timer)
    for (const part of run.open) part.destroy()
  }
  const result = { ...run.result, ms: performance.now() - start }
  if (result.answered < result.requests)
    result.error = `${result.answered} of ${result.requests} requests answered${run.firstFailure ? `: ${run.firstFailure}` : ''}`
  else warmed = true
  return result
}
