/**
 * Streams reset while their response body waits on flow control are released.
 *
 * A stream reset (RST_STREAM, received or sent) while its body waits for window (a
 * peer with a small or zero INITIAL_WINDOW_SIZE, a body larger than the window) was
 * kept in memory for good, ~15 KB a stream:
 * - Destroying spdy's per-stream socket closes its handle, and spdy's handle completes
 *   that close only once the stream's writable side emits `'finish'`; a reset stream's
 *   queued DATA is never sent, so it never finishes. The socket then never emits
 *   `'close'`, Node's server never frees its HTTP parser (a native object, rooted
 *   until freed), and the parser holds the socket, request, response and stream, with
 *   `'close'` never emitted on `req` or `res`. Ours completes the close once the
 *   stream is closed either way: finished as before, or reset.
 * - DATA frames already past the stream's window but waiting for the connection's
 *   window stayed in the connection's queue, holding their stream (and its request and
 *   response) until the connection closed, and went out once the peer opened the
 *   connection window: DATA on a closed stream (RFC 9113 §5.1 forbids it), spending
 *   the connection window the live streams wait for. A reset stream's queued DATA
 *   frames are now dropped.
 */
import type { SpdyFramer, SpdyHandle, SpdyStream } from './internals.js'

type CloseCallback = (err?: Error | null) => void
type HandleCloseCallback = (this: SpdyHandle, callback: CloseCallback) => void

/** Completes the per-stream socket's close when its stream is reset, not only when it finishes. */
export function releaseResetStreams(closeCallback: HandleCloseCallback): HandleCloseCallback {
  return function closeCallbackReleasingResetStreams(this: SpdyHandle, callback: CloseCallback): void {
    const stream = this._spdyState.stream as SpdyStream | null
    if (!stream) {
      closeCallback.call(this, callback)
      return
    }
    let done = false
    const complete: CloseCallback = (err) => {
      if (done) return
      done = true
      stream.removeListener('close', onStreamClose)
      callback(err ?? null)
    }
    // Like a libuv handle's close, the callback runs on a later turn of the loop.
    const onStreamClose = (): void => {
      setImmediate(complete)
    }

    if (stream._spdyState.aborted) {
      // Nothing left to finish (and one end per handle, as in spdy's own).
      this._spdyState.ending = false
      setImmediate(complete)
      return
    }
    // spdy-transport emits 'close' after a reset, and after 'finish' once both sides ended.
    stream.once('close', onStreamClose)
    closeCallback.call(this, complete)
  }
}

/** An entry of a window side's wait queue, tagged with the stream of its DATA frame. */
interface Waiting {
  size: number
  callback: () => void
  streamId?: number
}

function connectionQueue(framer: SpdyFramer): Waiting[] | undefined {
  return (framer.window?.send as { _refillQueue?: Waiting[] } | undefined)?._refillQueue
}

interface FrameHead {
  id: number
  type: string
}
type WriteFrame = (this: SpdyFramer, frame: FrameHead, body: (buffer: unknown) => void, callback?: unknown) => unknown

/** Tags a DATA frame that waits for the connection's window with its stream id. */
export function tagWaitingData(writeFrame: WriteFrame): WriteFrame {
  return function frameTaggingWaitingData(this: SpdyFramer, frame, body, callback): unknown {
    const queue = frame.type === 'DATA' ? connectionQueue(this) : undefined
    const before = queue?.length ?? 0
    const chunks = writeFrame.call(this, frame, body, callback)
    if (queue && queue.length > before) queue[queue.length - 1]!.streamId = frame.id
    return chunks
  }
}

/** Whether a DATA frame of stream `id` waits for the connection's window. */
export function dataWaitsForWindow(framer: SpdyFramer, id: number): boolean {
  return connectionQueue(framer)?.some((entry) => entry.streamId === id) === true
}

type Abort = SpdyStream['abort']

/** After a reset, drops the stream's DATA frames still waiting for the connection's window. */
export function dropQueuedDataOnAbort(abort: Abort): Abort {
  return function abortDroppingQueuedData(this: SpdyStream, code, callback): void {
    abort.call(this, code, callback)
    if (!this._spdyState.aborted) return
    const queue = connectionQueue(this._spdyState.framer)
    if (!queue || queue.length === 0) return
    const id = this.id
    let kept = 0
    for (const entry of queue) if (entry.streamId !== id) queue[kept++] = entry
    queue.length = kept
  }
}
