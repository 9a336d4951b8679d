/**
 * Requests parsed after their connection's socket closed.
 *
 * spdy-transport's frame parser is asynchronous (SPDY header blocks go through zlib),
 * so a request whose bytes arrived just before the socket closed can be parsed after
 * it, once the connection has already closed its streams. Its stream then stayed open
 * for good, and so did the request the app got for it: `req.socket` never emitted
 * 'close', and the server never finished closing. It is still handed to the app (the
 * client sent it in full), then closed like the connection's other streams.
 */
import type { SpdyConnection, SpdyStream } from './internals.js'

type CreateStream = (this: SpdyConnection, uri: { id?: number; [key: string]: unknown }) => SpdyStream

export function closeStreamsOpenedAfterClose(createStream: CreateStream): CreateStream {
  return function createStreamOnClosedSocket(this: SpdyConnection, uri): SpdyStream {
    const stream = createStream.call(this, uri)
    // Once the app has had the request and its per-stream socket is reading.
    if (this.socket.destroyed) setImmediate(() => stream.abort())
    return stream
  }
}
