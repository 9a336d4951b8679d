/**
 * The per-stream socket: writes, end, and Node's request timeouts.
 *
 * spdy gives every HTTP/2 stream a `net.Socket` whose libuv-style handle
 * (handle-thing) forwards writes to the stream. That handle breaks Node's
 * StreamBase contract in three ways:
 * - Node >= 15 calls the write callback itself when the process-wide "last write was
 *   async" flag is 0 (any synchronous stdout write to a pipe clears it), and
 *   handle-thing calls it again later: ERR_MULTIPLE_CALLBACK, the socket is
 *   destroyed and the stream reset with RST_STREAM(CANCEL) (node-spdy #380).
 * - `writev` never completes its request and reads a Buffer array as
 *   (chunk, encoding) pairs: `write(a); end(b)` hangs and every 2nd Buffer is lost.
 * - Node 26 calls `writeBuffer(null, data)`, which handle-thing dereferences: crash.
 * So the socket writes to the stream itself, through the stream's own callbacks.
 *
 * Node >= 18 also registers each per-stream socket's HTTP/1 parser in the server's
 * connection list. spdy feeds that parser the request head without running it, so it
 * never "completes", and `headersTimeout`/`requestTimeout` destroy the socket of any
 * stream held open for 60-300 s (RST_STREAM(CANCEL) at ~89 s). Once spdy has emitted
 * the request, we take that parser out of the list; HTTP/1.1 connections keep the
 * timeouts.
 */
import { writableEnded, writableFinished, type SpdyHandle, type SpdySocket, type SpdyStream } from './internals.js'

interface WritevChunk {
  chunk: Buffer | string
  encoding: BufferEncoding
}

type Callback = (err?: Error | null) => void

/**
 * Runs `use` with the socket's stream: at once on a server, and on a client once the
 * request has been given its stream (spdy's agent opens it when the request is sent).
 */
function withStream(socket: SpdySocket, use: (stream: SpdyStream | undefined) => void): void {
  const handle = socket._handle
  const stream = handle?._spdyState.stream
  if (!handle || stream) {
    use(stream ?? undefined)
    return
  }
  handle.once('stream', (assigned: SpdyStream) => use(assigned))
}

/** What a write to a closed HTTP/2 stream fails with. */
export function closedError(): Error {
  const err = new Error('The HTTP/2 stream is closed') as Error & { code: string }
  err.code = 'ERR_STREAM_DESTROYED'
  return err
}

function isClosed(stream: SpdyStream | undefined): stream is undefined {
  return !stream || stream._spdyState.aborted || writableEnded(stream)
}

export function socketWrite(this: SpdySocket, data: Buffer | string, encoding: BufferEncoding, cb: Callback): void {
  withStream(this, (stream) => {
    if (isClosed(stream)) cb(closedError())
    else stream.write(data, encoding, cb)
  })
}

export function socketWritev(this: SpdySocket, chunks: WritevChunk[], cb: Callback): void {
  withStream(this, (stream) => {
    if (isClosed(stream)) {
      cb(closedError())
      return
    }
    const last = chunks.length - 1
    for (let i = 0; i < last; i++) {
      const { chunk, encoding } = chunks[i]!
      stream.write(chunk, encoding)
    }
    const final = chunks[last]
    if (final) stream.write(final.chunk, final.encoding, cb)
    else process.nextTick(cb)
  })
}

export function socketFinal(this: SpdySocket, cb: Callback): void {
  withStream(this, (stream) => {
    if (!stream || writableFinished(stream)) {
      cb()
      return
    }
    if (writableEnded(stream)) {
      stream.once('finish', () => cb())
      return
    }
    stream.end(() => cb())
  })
}

/** Wraps spdy's `Handle#emitRequest` to release the request's parser from the timeout list. */
export function releaseParserAfterEmit(emitRequest: (this: SpdyHandle) => void) {
  return function emitRequestWithoutTimeouts(this: SpdyHandle): void {
    const socket = this._spdyState.socket
    emitRequest.call(this)
    socket?.parser?.remove?.()
  }
}
