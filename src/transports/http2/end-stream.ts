/**
 * node:http2 ends a server stream whose request it never read with RST_STREAM(NO_ERROR),
 * one `setImmediate` after the stream's writable side finishes (lib/internal/http2/core.js,
 * `kMaybeDestroy`: `!state.didRead && this.readableFlowing === null`). RFC 9113 §8.1 allows
 * that reset only after a frame with END_STREAM. But "finished" means handed to nghttp2,
 * not sent: when the response's last data went out and `end()` came after it (a piped file,
 * `res.write()` then `res.end()`, the compatibility API's empty trailers), END_STREAM is an
 * empty DATA frame, which nghttp2 holds while the stream's or the connection's flow-control
 * window is spent. The RST_STREAM is not flow controlled and goes first, so the client gets
 * a reset in place of the end of a complete response: nghttp counts the page as failed, and
 * a reset push is thrown away and fetched again. Pushes that fill the client's window make
 * this the usual case, for the page and for every piped push (Node 20 to 26).
 *
 * A stream whose readable side is flowing or paused (not `null`) takes Node's other path: it
 * closes once END_STREAM is sent and its readable side has ended.
 */
import type { Http2Stream } from 'node:http2'

/**
 * For a request stream that ended with its HEADERS (`endAfterHeaders`: no body to drop):
 * resumed, so it closes after its END_STREAM, not by a reset before it. Resumed rather
 * than paused: the request's 'end' still reaches code that reads the request.
 */
export function requestClosesAfterEndStream(stream: Http2Stream): void {
  if (stream.readableFlowing === null && !stream.destroyed) stream.resume()
}

/**
 * For a pushed stream (it never receives data): paused, so it closes after its END_STREAM,
 * not by a reset before it. Paused rather than resumed: Node then ends its readable side
 * when the stream closes, after its 'finish', as for any pushed stream.
 */
export function pushClosesAfterEndStream(stream: Http2Stream): void {
  if (stream.readableFlowing === null && !stream.destroyed) stream.pause()
}
