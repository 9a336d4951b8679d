/**
 * A request stream becomes a request on the next turn of the event loop, and one reset
 * meanwhile never does.
 *
 * spdy's server made each new stream a request as its HEADERS was parsed: a per-stream
 * socket, an HTTP/1 parser, `req` and `res`, then the app. A rapid-reset client
 * (CVE-2023-44487) sends HEADERS and RST_STREAM for stream after stream in one write, and
 * a whole read (64 KB: about 1 500 such pairs) is parsed at once: all of that work was
 * done for streams already cancelled, while every other connection waited (over a second
 * per read). Deferred to `setImmediate`, the streams of a read become requests after the
 * whole read is parsed, each only if it is still open; other connections' I/O is served
 * in between (trailers that arrived meanwhile are handed on once the request listens).
 * node:http2 requests get the same treatment in `createServer`
 * (src/server/dispatch.ts).
 */
import { guardOf } from './guarded-connection.js'
import type { SpdyStream } from './internals.js'

type OnStream = (this: unknown, stream: SpdyStream) => void

function noop(): void {}

/**
 * Trailers that came before the request existed, emitted again once it listens: spdy's
 * handle listens for 'headers' when it assigns the request, and the app's 'request'
 * handler runs right after, in the same turn; the trailers follow on the next tick.
 */
function replayOnceHeard(stream: SpdyStream, trailers: readonly unknown[]): void {
  const onListener = (event: string | symbol): void => {
    if (event !== 'headers') return
    stream.removeListener('newListener', onListener)
    process.nextTick(() => {
      for (const headers of trailers) stream.emit('headers', headers)
    })
  }
  stream.on('newListener', onListener)
}

export function deferStreamsPastTheirRead(onStream: OnStream): OnStream {
  return function onStreamDeferred(this: unknown, stream): void {
    // Until the request is wired up: trailers kept for it, an error (a reset) not thrown.
    const trailers: unknown[] = []
    const keepTrailers = (headers: unknown): void => {
      trailers.push(headers)
    }
    stream.on('headers', keepTrailers)
    stream.on('error', noop)
    setImmediate(() => {
      stream.removeListener('headers', keepTrailers)
      // Gone, or on a connection the protocol guard is ending (past a limit, a protocol error).
      if (stream._spdyState.aborted || stream.destroyed || guardOf(stream.connection)?.ended) return
      stream.removeListener('error', noop)
      if (trailers.length > 0) replayOnceHeard(stream, trailers)
      onStream.call(this, stream)
    })
  }
}
