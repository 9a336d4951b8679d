/**
 * The frames of a server connection written to its socket by the framer itself.
 *
 * spdy-transport's framer (its frame scheduler) is a readable-stream Readable piped to the
 * connection's socket: every chunk it pushes went through `Readable#push`, the readable
 * state's bookkeeping, a 'data' event to the pipe's `ondata`, which writes it to the socket,
 * and a `maybeReadMore` tick that reads the empty framer again. Here, when the pipe would hand
 * a pushed chunk on at once (the framer flowing, nothing buffered, piped to its socket alone,
 * nobody else listening for 'data'), the chunk is written to the socket directly, and a write
 * that says "full" pauses the framer as the pipe's `ondata` does, so the pipe's own 'drain'
 * handler resumes it: the same bytes in the same order, the same backpressure. Anything else
 * (a paused or unpiped framer, an empty chunk, the end) takes the stream's own way.
 */
import type { Socket } from 'node:net'

const SOCKET = Symbol('express-h2-push.framer-socket')

interface ReadableState {
  flowing: boolean | null
  length: number
  sync: boolean
  ended: boolean
  destroyed: boolean
  reading: boolean
  awaitDrain: number
  pipesCount: number
  pipes: unknown
  highWaterMark: number
}

interface Framer {
  [SOCKET]?: Socket
  _readableState: ReadableState
  listenerCount(event: string): number
  pause(): unknown
}

type Push = (this: Framer, chunk: unknown, encoding?: BufferEncoding) => boolean

const patched = new WeakSet<object>()

function writeWhenPiped(push: Push): Push {
  return function pushToSocket(this: Framer, chunk, encoding) {
    const socket = this[SOCKET]
    const state = this._readableState
    // What readable-stream's addChunk checks before it emits 'data' at once, and the pipe's ondata being the one listener.
    if (
      socket === undefined ||
      !Buffer.isBuffer(chunk) ||
      chunk.length === 0 ||
      state.ended ||
      state.destroyed ||
      state.flowing !== true ||
      state.length !== 0 ||
      state.sync ||
      state.pipesCount !== 1 ||
      state.pipes !== socket ||
      this.listenerCount('data') !== 1
    ) {
      return push.call(this, chunk, encoding)
    }
    state.reading = false
    state.awaitDrain = 0
    if (socket.write(chunk) === false) {
      // The pipe's ondata: wait for the socket's 'drain' (the pipe resumes the framer then).
      if (state.pipesCount === 1 && state.pipes === socket) state.awaitDrain++
      this.pause()
    }
    return true
  }
}

/** Makes `framer` write what it pushes straight to `socket`, the destination it is piped to. */
export function writeFramesToSocket(framer: object, socket: Socket): void {
  const proto = Object.getPrototypeOf(framer) as Record<string, unknown>
  if (!patched.has(proto)) {
    patched.add(proto)
    proto['push'] = writeWhenPiped(proto['push'] as Push)
  }
  ;(framer as Framer)[SOCKET] = socket
}
