/**
 * Response headers compressed by a direct call, not through two streams.
 *
 * spdy-transport's HTTP/2 framer compresses each header block by writing it to hpack.js's
 * Compressor, a readable-stream 2 Duplex, through a LockStream that adds an 'error' and a
 * 'data' listener per block, collects the encoded chunks from 'data' events, removes the
 * listeners and calls back on the next tick, when the Writable reports the write done. The
 * encoding itself is synchronous (`_encodeHeader` per header, then `render()`): in the CPU
 * profile of Express on spdy (`GET /crt`, h2load -c 20 -m 10), the round trip through the
 * two streams cost as much as the encoding (LockStream#write 2.4 % of the server's busy
 * time inclusive; `_encodeHeader` and `render` 1.1 %).
 *
 * So a header block is encoded by the Compressor's own methods, in the same order (blocks
 * are encoded as they are written, with the same dynamic table), and its chunks are handed
 * to the framer on the next tick, as before. When the LockStream is busy, or the
 * Compressor holds output of its own (a dynamic table size update, which goes in front of
 * the next block), the write takes spdy's own path. Servers only: on spdy's client, a
 * request's trailers then left a tick earlier, and spdy's own test "should receive trailing
 * headers" lost them (the server's deferred stream re-emits trailers before `handle.assignRequest`
 * listens, on the next tick). Measured effect: see bench/README.md,
 * "spdy at node:http2's cost".
 */

interface Encoder {
  render(): Buffer[]
}

interface HpackCompressor {
  _encoder: Encoder | null
  _encodeHeader(header: unknown): void
  _readableState: { length: number }
}

interface LockStream {
  [direct]?: true
  locked: boolean
  queue: unknown[]
  stream: unknown
}

type LockWrite = (this: LockStream, chunks: unknown[], callback: (err: Error | null, chunks?: Buffer[]) => void) => void

const direct = Symbol('express-h2-push.direct-hpack')

export interface HpackModule {
  compressor: new (...args: never[]) => unknown
  encoder: { create(): Encoder }
}

/** Wraps spdy-transport's `LockStream#write` so that hpack.js Compressors encode directly. */
export function compressHeadersDirectly(write: LockWrite, hpack: HpackModule): LockWrite {
  const Compressor = hpack.compressor
  return function writeHeaderBlock(this: LockStream, chunks, callback): void {
    const compressor = this.stream as HpackCompressor
    if (!this[direct] || this.locked || this.queue.length > 0 || !(compressor instanceof Compressor) || compressor._readableState.length > 0) {
      write.call(this, chunks, callback)
      return
    }
    const output: Buffer[] = []
    for (const headers of chunks) {
      if (!Array.isArray(headers)) {
        // Not a header list: let hpack.js report it as it always did.
        write.call(this, chunks, callback)
        return
      }
      compressor._encoder = hpack.encoder.create()
      for (const header of headers) compressor._encodeHeader(header)
      output.push(...compressor._encoder.render())
      compressor._encoder = null
    }
    process.nextTick(callback, null, output)
  }
}

type OnVersion = (this: { _spdyState: { isServer: boolean; framer: { compress: LockStream | null } } }, version: number) => void

/** Wraps spdy-transport's `Connection#_onVersion`, which gives the framer its compressor: a server's encodes directly. */
export function directOnServers(onVersion: OnVersion): OnVersion {
  return function onVersionMarkingServers(this, version): void {
    onVersion.call(this, version)
    const { isServer, framer } = this._spdyState
    if (isServer && framer.compress) framer.compress[direct] = true
  }
}
