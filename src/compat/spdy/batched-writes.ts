/**
 * One socket write per event-loop turn on spdy's HTTP/2 server connections.
 *
 * spdy-transport's framer is a Readable piped to the connection's socket: every frame it
 * schedules is a separate `socket.write`. On TLS that is one `SSL_write`, one record and
 * one `write(2)` per frame; a response to a GET is three (HEADERS, DATA, the empty DATA
 * that ends the stream), and h2load's ten concurrent requests per connection made thirty
 * records and syscalls where node:http2 (nghttp2) writes once per turn of the event loop
 * (it schedules its session's write with setImmediate). In the CPU profile of Express on
 * spdy (`GET /crt`, h2load -c 20 -m 10), the socket writes (`writeBuffer`, `writev`) took
 * 9 % of the server's busy time, against 1 % on node:http2, and the client paid again to
 * read and decrypt every small record.
 *
 * So the socket is corked at the first write of a turn and uncorked by setImmediate: the
 * frames of that turn go out in one `writev` (in records of whole frames, see
 * record-size.ts), as node:http2's do. Nothing waits longer than the turn it was written
 * in; backpressure is unchanged (a corked write still returns false past the socket's
 * highWaterMark, and 'drain' follows the uncorked write). Measured effect: see the
 * CHANGELOG / bench/README.md "spdy at node:http2's cost".
 */
import type { Socket } from 'node:net'

const batched = Symbol('express-h2-push.batched-writes')
const atOnce = Symbol('express-h2-push.write-at-once')

type Write = Socket['write']
type Batched = Socket & { [batched]?: true; [atOnce]?: boolean }

/** Makes the writes of each event-loop turn on `socket` go out together. Idempotent. */
export function batchWritesPerTurn(socket: Socket): void {
  const marked = socket as Batched
  if (marked[batched]) return
  marked[batched] = true
  const write = socket.write as (this: Socket, ...args: unknown[]) => boolean
  let corked = false
  const flush = (): void => {
    corked = false
    // end() and destroy() uncork on their own: uncork only what is still ours to undo.
    if (socket.writableCorked > 0) socket.uncork()
  }
  socket.write = function writeThisTurn(this: Socket, ...args: unknown[]): boolean {
    if (!corked && !socket.destroyed && socket.writable) {
      corked = true
      socket.cork()
      setImmediate(flush)
    }
    const result = write.apply(this, args)
    if (marked[atOnce]) {
      marked[atOnce] = false
      // After the frames spdy's scheduler writes in this same run of ticks, before the turn goes on.
      process.nextTick(flush)
    }
    return result
  } as Write
}

/**
 * The next write on `socket` (and what its tick writes with it) goes out at once, not at the end of
 * the event-loop turn: for a 103 Early Hints, which the client acts on as soon as it arrives, while
 * the rest of the turn may run the route, another connection's TLS handshake or other I/O callbacks.
 * A socket without batched writes is left as it is.
 */
export function sendNextWriteAtOnce(socket: Socket): void {
  const marked = socket as Batched
  if (!marked[batched]) return
  marked[atOnce] = true
  // No write this turn (the frame waits on something): the turn's batching goes on as before.
  setImmediate(() => {
    marked[atOnce] = false
  })
}

/** `protocol` is the ALPN (or NPN) choice: `false` when the client offered none. */
type HandleConnection = (this: { _spdyState?: { options?: { protocol?: string } } }, socket: Socket, protocol?: string | false) => void

/**
 * spdy's `Server#_handleConnection`, with the writes of each turn batched on the HTTP/2 connections it
 * serves (ALPN `h2`, or a plain server's HTTP/2 preface). SPDY/3 keeps its writes as they were: its framer
 * still writes into a frame's chunks after scheduling it (see record-size.ts), and spdy's own test
 * "should not crash on .writeHead() after socket close" timed out on spdy/3.1 with them batched.
 */
export function batchWritesOnSpdyConnections(handleConnection: HandleConnection): HandleConnection {
  return function handleConnectionBatchingWrites(this, socket, protocol): void {
    // spdy falls back to the server's `spdy.protocol` option, and hands HTTP/1.x to Node's own server.
    const chosen = protocol || this._spdyState?.options?.protocol
    if (chosen === 'h2') batchWritesPerTurn(socket)
    handleConnection.call(this, socket, protocol)
  }
}
