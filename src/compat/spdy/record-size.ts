/**
 * TLS records that end where HTTP/2 frames end, on spdy's connections.
 *
 * spdy-transport queues each frame as several chunks, and Node's TLS socket joins whatever is
 * queued into one `SSL_write`, so records of 16 KB were cut anywhere: mid-frame. A client can
 * use no byte of a record until all of it has arrived, so the tail of a frame, cut into the
 * next record, waits for it; and a client that returns flow-control window as it reads
 * (libnghttp2: a WINDOW_UPDATE when half its window is read, of what was read so far) returns
 * less of it. Go and nghttp2 write frame by frame; here too each frame is one chunk, and
 * queued frames are written in records of whole frames, up to 16 KB each.
 */
import type { Socket } from 'node:net'

/** The largest TLS record payload (RFC 8446 §5.1). */
export const LARGEST_RECORD = 16384

interface Chunk {
  chunk: Buffer | string
  encoding: BufferEncoding
}
type WriteCallback = (error?: Error | null) => void
interface WritableSocket extends Socket {
  _writev(chunks: Chunk[], callback: WriteCallback): void
}
interface ScheduledFrame {
  chunks: Buffer[]
}
type Schedule = (this: unknown, frame: ScheduledFrame) => void

/** The scheduler's `schedule`, with each frame's chunks joined into one (see the module comment). */
export function scheduleFramesWhole(schedule: Schedule): Schedule {
  return function scheduleFrameWhole(this: unknown, frame): void {
    if (frame.chunks.length > 1) frame.chunks = [Buffer.concat(frame.chunks)]
    schedule.call(this, frame)
  }
}

/** How many of `chunks` (whole frames) go in one record: as many as fit in 16 KB, at least one. */
export function framesInOneRecord(chunks: readonly Chunk[]): number {
  let size = chunks[0]!.chunk.length
  let count = 1
  while (count < chunks.length && size + chunks[count]!.chunk.length <= LARGEST_RECORD) {
    size += chunks[count]!.chunk.length
    count++
  }
  return count
}

const aligned = Symbol('express-h2-push.record-size')

/** Node's Writable marks a batch of Buffers only; `writev` then skips the encodings. */
type Batch = Chunk[] & { allBuffers?: boolean | undefined }

function part(chunks: Batch, start: number, end?: number): Batch {
  const slice: Batch = chunks.slice(start, end)
  slice.allBuffers = chunks.allBuffers
  return slice
}

/** Makes the frames queued on `socket` go out in records of whole frames. Idempotent. */
export function writeWholeFramesPerRecord(tlsSocket: Socket): void {
  const socket = tlsSocket as WritableSocket & { [aligned]?: true }
  if (socket[aligned]) return
  socket[aligned] = true
  const writev = socket._writev

  const writeRecords = (chunks: Batch, callback: WriteCallback): void => {
    const count = framesInOneRecord(chunks)
    if (count === chunks.length) return writev.call(socket, chunks, callback)
    // The next record once this one is written: one SSL_write each.
    writev.call(socket, part(chunks, 0, count), (error) => (error ? callback(error) : writeRecords(part(chunks, count), callback)))
  }
  socket._writev = function writevWholeFrames(chunks, callback): void {
    writeRecords(chunks, callback)
  }
}

/** `protocol` is the ALPN (or NPN) choice: `false` when the client offered none. */
type HandleConnection = (this: unknown, socket: Socket, protocol?: string | false) => void

/** spdy's `Server#_handleConnection`, with records of whole frames on the HTTP/2 (ALPN `h2`) connections it serves over TLS. */
export function wholeFramesPerRecordOnTls(handleConnection: HandleConnection): HandleConnection {
  return function handleConnectionWithWholeFrames(this: unknown, socket, protocol): void {
    const encrypted = (socket as Socket & { encrypted?: boolean }).encrypted === true
    if (encrypted && protocol === 'h2') writeWholeFramesPerRecord(socket)
    handleConnection.call(this, socket, protocol)
  }
}
