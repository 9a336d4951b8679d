/**
 * Each HTTP/2 frame rendered into one Buffer of its own size.
 *
 * spdy-transport's HTTP/2 framer renders every frame through a wbuf `WriteBuffer`: a fresh
 * object per frame with its own list of chunks, a reserved chunk for the 9-byte frame header,
 * a second chunk for the body, a sub-buffer for the length written last, and `render()`'s
 * array of slices; record-size.ts then joins those chunks into one Buffer (`Buffer.concat`)
 * so that TLS records end where frames end. In the allocation profile of Express on spdy
 * (`GET /crt`, h2load -c 20 -m 10) the WriteBuffers and the join were about 3 KB of the
 * 48 KB allocated per request, for three frames.
 *
 * Here the framer's `_frame` writes the frame's body into one scratch buffer, reused by every
 * frame (rendering is synchronous: a body callback only writes), puts the header in front,
 * and copies the frame into a Buffer of exactly its size (`Buffer.allocUnsafe`, pooled for
 * small frames as wbuf's chunks were). The writer has wbuf's methods the framer's bodies
 * call, with wbuf's semantics: `writeUInt8` stores what it is given, the 16- and 32-bit
 * writes are Node's (range-checked, as wbuf's fast path is), `write` stores a string's
 * characters as wbuf does. The rest of `_frame` is spdy-transport's: a DATA frame waits on
 * the connection window, anything else is scheduled at once, and the frame's chunks are
 * returned. (HTTP/2 only: SPDY/3's framer keeps its own.)
 */
import type { SpdyTransportModule } from './internals.js'

const HEADER = 9

/** wbuf's WriteBuffer methods the HTTP/2 framer's frame bodies call, over one growing scratch buffer. */
class FrameWriter {
  buffer = Buffer.allocUnsafe(16 * 1024 + HEADER)
  /** Where the next byte goes; the frame header takes the first HEADER bytes. */
  pos = HEADER

  /** The bytes written so far, the header included (wbuf's `size`, as `_frame` reserved the header in it). */
  get size(): number {
    return this.pos
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buffer.length) return
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.pos + n))
    this.buffer.copy(bigger, 0, 0, this.pos)
    this.buffer = bigger
  }

  reserve(n: number): void {
    this.ensure(n)
  }

  writeUInt8(value: number): void {
    this.ensure(1)
    this.buffer[this.pos++] = value
  }

  writeUInt16BE(value: number): void {
    this.ensure(2)
    this.pos = this.buffer.writeUInt16BE(value, this.pos)
  }

  writeUInt32BE(value: number): void {
    this.ensure(4)
    this.pos = this.buffer.writeUInt32BE(value, this.pos)
  }

  writeInt32BE(value: number): void {
    this.writeUInt32BE(value < 0 ? 0x100000000 + value : value)
  }

  copyFrom(source: Buffer, start?: number, end?: number): void {
    const from = start ?? 0
    const to = end ?? source.length
    if (from === to) return
    this.ensure(to - from)
    this.pos += source.copy(this.buffer, this.pos, from, to)
  }

  /** wbuf's `write`: each character as one byte, or two (high, low) above 255. */
  write(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c >>> 8) this.writeUInt8(c >>> 8)
      this.writeUInt8(c & 0xff)
    }
  }
}

interface Framer {
  window: { send: { update(size: number, callback: () => void): void } } | null
  _resetTimeout(): void
  schedule(toWrite: { stream: number; priority: unknown; chunks: Buffer[]; callback: unknown }): void
}

interface FrameHead {
  id: number
  type: string
  flags?: number
  priority?: unknown
}

/** The HTTP/2 framer's `_frame`, rendering into one Buffer (see the module comment). */
export function oneBufferFrames(frameType: Readonly<Record<string, number>>, debug: (...args: unknown[]) => void) {
  let writer = new FrameWriter()
  return function frameInOneBuffer(this: Framer, frame: FrameHead, body: (buffer: FrameWriter) => void, callback?: unknown): Buffer[] {
    debug('id=%d type=%s', frame.id, frame.type)
    writer.pos = HEADER
    body(writer)
    const size = writer.pos
    const out = Buffer.allocUnsafe(size)
    writer.buffer.copy(out, HEADER, HEADER, size)
    // A frame larger than the peer's default limit grew the scratch buffer: do not keep it.
    if (writer.buffer.length > 64 * 1024) writer = new FrameWriter()
    const length = size - HEADER
    out[0] = length >>> 16
    out[1] = (length >>> 8) & 0xff
    out[2] = length & 0xff
    out[3] = frameType[frame.type] as number
    out[4] = frame.flags as number
    out.writeUInt32BE(frame.id & 0x7fffffff, 5)
    const chunks = [out]
    const toWrite = { stream: frame.id, priority: frame.priority === undefined ? false : frame.priority, chunks, callback }
    if (this.window && frame.type === 'DATA') {
      this._resetTimeout()
      this.window.send.update(-length, () => {
        this._resetTimeout()
        this.schedule(toWrite)
      })
    } else {
      this._resetTimeout()
      this.schedule(toWrite)
    }
    return chunks
  }
}

let wbufFrame: unknown
let splitContinuationFrame: unknown
let splitDataFrame: unknown

/** spdy-transport's own `dataFrame` (the payload cut through an OffsetBuffer), as it was before oneFrameData. */
export function framerOwnDataFrame(): unknown {
  return splitDataFrame
}

/** spdy-transport's own `_frame` (through a wbuf WriteBuffer), as it was before installOneBufferFrames: for comparing the two. */
export function framerOwnFrame(): unknown {
  return wbufFrame
}

/** spdy-transport's own `_continuationFrame` (the block cut through an OffsetBuffer), as it was before installOneBufferFrames. */
export function framerOwnContinuationFrame(): unknown {
  return splitContinuationFrame
}

/** spdy-transport's HTTP/2 framer, rendering each frame into one Buffer; `debug` logs each frame as the framer's own `spdy:framer` logger did. */
export function installOneBufferFrames(transport: SpdyTransportModule, debug: (...args: unknown[]) => void): void {
  const http2 = transport.protocol.http2 as unknown as { constants: { frameType: Record<string, number> }; framer: { prototype: Record<string, unknown> } }
  wbufFrame ??= http2.framer.prototype['_frame']
  splitContinuationFrame ??= http2.framer.prototype['_continuationFrame']
  http2.framer.prototype['_frame'] = oneBufferFrames(http2.constants.frameType, debug)
  http2.framer.prototype['_continuationFrame'] = oneFrameHeaderBlocks(
    http2.framer.prototype['_continuationFrame'] as ContinuationFrame,
    (http2.constants as unknown as { flags: { END_HEADERS: number } }).flags.END_HEADERS,
  )
}

interface HeaderBlockFrame {
  id: number
  type: string
  flags: number
  reserve: number
  chunks: Buffer[]
}

type ContinuationFrame = (
  this: Framer & { maxFrameSize: number },
  frame: HeaderBlockFrame,
  body: ((buffer: FrameWriter) => void) | null,
  callback?: unknown,
) => void

/**
 * Wraps the HTTP/2 framer's `_continuationFrame`, which writes a header block as a HEADERS
 * (or PUSH_PROMISE) frame and CONTINUATION frames: it first cuts the block into frames
 * through an OffsetBuffer and clones of it, even when the block fits in one frame, as
 * nearly every block does. A block that fits goes straight to one frame, as the original
 * writes it then (the frame's own flags and END_HEADERS, its reserved bytes from `body`,
 * then the block); any other takes spdy-transport's way.
 */
export function oneFrameHeaderBlocks(continuationFrame: ContinuationFrame, endHeaders: number): ContinuationFrame {
  return function headerBlockInOneFrame(frame, body, callback): void {
    let size = 0
    for (const chunk of frame.chunks) size += chunk.length
    if (size === 0 || size > this.maxFrameSize - frame.reserve) return continuationFrame.call(this, frame, body, callback)
    const chunks = frame.chunks
    ;(this as unknown as { _frame: (head: FrameHead, body: (buffer: FrameWriter) => void, callback?: unknown) => Buffer[] })._frame(
      { id: frame.id, priority: false, type: frame.type, flags: endHeaders | frame.flags },
      (buffer) => {
        if (body) body(buffer)
        for (const chunk of chunks) buffer.copyFrom(chunk)
      },
      callback,
    )
  }
}

interface DataFrame {
  id: number
  priority?: unknown
  fin?: boolean
  data?: unknown
}

type DataFrameWriter = (this: Framer & { maxFrameSize: number }, frame: DataFrame, callback?: unknown) => void

/**
 * Wraps the HTTP/2 framer's `dataFrame`, which cuts a DATA payload into frames through an
 * OffsetBuffer, its clones, their chunk arrays and a closure per frame, even when the payload
 * fits in one frame, as a response body written in one piece does (Stream#_split has already
 * cut it to the windows). A payload that fits goes straight to one frame, as the original
 * writes it then (END_STREAM when `fin`); an empty one, or one larger than a frame, takes
 * spdy-transport's way.
 */
export function oneFrameData(dataFrame: DataFrameWriter, endStream: number): DataFrameWriter {
  splitDataFrame ??= dataFrame
  return function dataInOneFrame(frame, callback): void {
    const data = frame.data
    if (!Buffer.isBuffer(data) || data.length === 0 || data.length > this.maxFrameSize) return dataFrame.call(this, frame, callback)
    ;(this as unknown as { _frame: (head: FrameHead, body: (buffer: FrameWriter) => void, callback?: unknown) => Buffer[] })._frame(
      { id: frame.id, priority: frame.priority, type: 'DATA', flags: frame.fin ? endStream : 0 },
      (buffer) => {
        buffer.reserve(data.length)
        buffer.copyFrom(data)
      },
      callback,
    )
  }
}
