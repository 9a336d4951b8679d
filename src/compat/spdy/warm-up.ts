/**
 * Warm-up: a few HTTP/2 connections through spdy and this layer, in memory, before a
 * server takes its first client.
 *
 * node:http2 parses and frames in C++ (nghttp2), so its first connections cost about what
 * its later ones do. spdy does all of it in JavaScript, and V8 compiles each function the
 * first time it runs and optimizes it only after it has run many times: a fresh spdy
 * server's first connection cost 9.7 ms of CPU from its TLS handshake to its request in
 * the app, against 5.0 ms on node:http2, and its next ten 1.6 ms against 0.8 ms
 * (`npm run bench:connection-setup`). Those are the connections a server takes right
 * after it starts (a deploy, a restart, a scaled-out instance), and a browser's page waits
 * on each.
 *
 * So `createServer` runs this first: a private spdy server, made with the same options as
 * the user's (TLS, ALPN, limits, request classes) but with a handler of its own, takes a
 * few connections from Node's own HTTP/2 client over an in-memory stream pair (TLS and
 * all; no port is opened). Each connection sends a browser's request headers, gets a 103,
 * a pushed response and a body, and closes, so the code of every step runs. The user's
 * app, server and listeners see none of it.
 *
 * It is best effort: an error or a stall ends it quietly (the server then starts cold, as
 * it did before), and it never takes more than `WARM_UP_TIMEOUT_MS`.
 */
import { Duplex } from 'node:stream'
import http2 from 'node:http2'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Server as HttpsServer, ServerOptions } from 'node:https'
import tls from 'node:tls'
import type { SpdyResponse, SpdyStream } from './internals.js'

/** How long a warm-up may take before it is given up (ms). */
export const WARM_UP_TIMEOUT_MS = 2000

export interface WarmUpOptions {
  /** Connections to make, one after another. */
  connections: number
  /** Requests on each connection, all at once (every second one pushes). */
  requests: number
}

export interface WarmUpResult {
  /** Requests answered whole. */
  answered: number
  /** 103 responses the client read. */
  hints: number
  /** Pushed responses the client read whole. */
  pushed: number
  /** Wall time (ms). */
  ms: number
  /** Why it stopped early, if it did. */
  error?: string
}

interface Destroyable {
  destroy(): void
}

type CreateSpdyServer = (options: ServerOptions, listener: (req: IncomingMessage, res: ServerResponse) => void) => HttpsServer

/** What a browser's request for a stylesheet carries (Chromium's), so HPACK's Huffman and table paths run. */
const REQUEST_HEADERS = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  accept: 'text/css,*/*;q=0.1',
  'accept-encoding': 'gzip, deflate, br, zstd',
  'accept-language': 'en-US,en;q=0.9',
  'sec-fetch-dest': 'style',
  'sec-fetch-mode': 'no-cors',
  'sec-fetch-site': 'same-origin',
}

const BODY = Buffer.alloc(2048, 'x')

/** Two connected in-memory Duplexes: what one writes, the other reads. */
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
        // As a reset TCP connection: the peer closes too.
        destroy(err, callback) {
          sides[other]!.destroy()
          callback(err)
        },
      }),
    )
  }
  return [sides[0]!, sides[1]!]
}

/** The private server's handler: a 103, then (every second request) a push, then a body. */
function answer(req: IncomingMessage, res: ServerResponse): void {
  try {
    respond(req, res)
  } catch {
    // The client sees the stream reset, and the warm-up stops there.
    res.destroy()
  }
}

function respond(req: IncomingMessage, res: ServerResponse): void {
  req.resume()
  ;(res as ServerResponse & { writeEarlyHints?(hints: Record<string, string>): void }).writeEarlyHints?.({ link: '</warm-up.css>; rel=preload; as=style' })
  const stream = (res as SpdyResponse).spdyStream as SpdyStream | undefined
  if (req.url === '/push' && stream && typeof stream.pushPromise === 'function') {
    stream.pushPromise({ path: '/warm-up.css', method: 'GET', status: 200, host: 'localhost', headers: {}, response: false }, (err, pushed) => {
      if (err || !pushed) return
      pushed.respond(200, { 'content-type': 'text/css', 'content-length': String(BODY.length) })
      pushed.end(BODY)
    })
  }
  res.setHeader('content-type', 'text/html; charset=utf-8')
  res.setHeader('cache-control', 'no-store')
  res.end(BODY)
}

/** One connection: `requests` requests at once, each read to its end; counts into `result`. */
function connection(server: HttpsServer, requests: number, result: WarmUpResult, open: Set<Destroyable>): Promise<void> {
  return new Promise((resolve, reject) => {
    const [serverSide, clientSide] = duplexPair()
    server.emit('connection', serverSide)
    const socket = tls.connect({ socket: clientSide, ALPNProtocols: ['h2'], servername: 'localhost', rejectUnauthorized: false })
    const session = http2.connect('https://localhost', { createConnection: () => socket })
    for (const part of [session, socket, serverSide, clientSide]) open.add(part)
    let left = requests
    const fail = (err: Error): void => {
      session.destroy()
      reject(err)
    }
    session.once('error', fail)
    session.once('close', () => {
      if (left > 0) reject(new Error(`the connection closed with ${left} of ${requests} requests unanswered`))
    })
    session.on('stream', (pushed) => {
      pushed.on('error', () => {})
      pushed.once('end', () => result.pushed++)
      pushed.resume()
    })
    for (let i = 0; i < requests; i++) {
      const req = session.request({ ':path': i % 2 ? '/push' : '/', ...REQUEST_HEADERS })
      let status: unknown
      req.once('error', fail)
      req.on('headers', () => result.hints++)
      req.once('response', (headers) => (status = headers[':status']))
      req.resume()
      req.once('end', () => {
        // A stream the closing session ended has no response.
        if (status !== 200) return fail(new Error(status === undefined ? 'a request ended without a response' : `a request was answered ${String(status)}`))
        result.answered++
        if (--left === 0) {
          session.close(() => resolve())
          socket.end()
        }
      })
    }
  })
}

/**
 * Runs `connections` warm-up connections through a private spdy server made by `create` with
 * `options`. Never throws: an error or `timeoutMs` ends it, reported in the result.
 */
export async function warmUpSpdy(
  create: CreateSpdyServer,
  options: ServerOptions,
  { connections, requests }: WarmUpOptions,
  timeoutMs = WARM_UP_TIMEOUT_MS,
): Promise<WarmUpResult> {
  const start = performance.now()
  const result: WarmUpResult = { answered: 0, hints: 0, pushed: 0, ms: 0 }
  let timer: NodeJS.Timeout | undefined
  const server = create(options, answer)
  // Every session, socket and stream of the warm-up, destroyed when it ends (a stalled one included).
  const open = new Set<Destroyable>()
  server.on('secureConnection', (socket: Destroyable) => open.add(socket))
  server.on('tlsClientError', () => {})
  server.on('error', () => {})
  try {
    const run = (async () => {
      for (let i = 0; i < connections; i++) await connection(server, requests, result, open)
    })()
    // After a timeout, the connection still running may fail: nothing waits for it then.
    run.catch(() => {})
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not done after ${timeoutMs} ms`)), timeoutMs)
    })
    await Promise.race([run, expired])
  } catch (err) {
    result.error = (err as Error).message
  } finally {
    clearTimeout(timer)
    for (const part of open) part.destroy()
  }
  result.ms = performance.now() - start
  return result
}
