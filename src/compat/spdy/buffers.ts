/**
 * spdy's stack allocates with the deprecated `new Buffer(size)`: wbuf for every chunk of
 * frames written, http-deceiver once per request, obuf for empty and split frame payloads read.
 * Node checks each such call for its DEP0005 warning by capturing a stack trace, for the
 * first 10 000 calls of a process: a page with 10 pushed stylesheets writes 127 chunks,
 * so its first 80 or so loads cost 12 % more CPU. The same zero-filled buffers come from
 * `Buffer.alloc`, which Node does not check.
 */

/** The parts of wbuf 1.7's WriteBuffer that its `_next` touches. */
interface WriteBuffer {
  sliceQueue: Buffer[] | null
  toReserve: number
  buffers: Buffer[]
  avail: number
  offset: number
  last: Buffer | null
}

/** wbuf 1.7's `WriteBuffer#_next`, with `Buffer.alloc(n)` where it has `new Buffer(n)`. */
export function nextChunk(this: WriteBuffer): void {
  let buf: Buffer
  if (this.sliceQueue === null) {
    buf = Buffer.alloc(this.toReserve)
  } else {
    // Only for `.slice()` results
    buf = this.sliceQueue.shift()!
    if (this.sliceQueue.length === 0) this.sliceQueue = null
  }
  this.toReserve = 0
  this.buffers.push(buf)
  this.avail = buf.length
  this.offset = 0
  this.last = buf
}

/** The parts of obuf 1.1's OffsetBuffer that its `take` touches. */
interface OffsetBuffer {
  buffers: Buffer[]
  offset: number
  size: number
}

/** obuf 1.1's `OffsetBuffer#take`, with `Buffer.alloc(n)` where it has `new Buffer(n)`. */
export function take(this: OffsetBuffer, n: number): Buffer {
  if (n === 0) return Buffer.alloc(0)
  this.size -= n
  // Fast cases: a slice of the first buffer.
  const first = this.buffers[0]!.length - this.offset
  if (first === n) {
    let r = this.buffers.shift()!
    if (this.offset !== 0) {
      r = r.slice(this.offset)
      this.offset = 0
    }
    return r
  }
  if (first > n) {
    const r = this.buffers[0]!.slice(this.offset, this.offset + n)
    this.offset += n
    return r
  }
  // Allocate and fill a buffer.
  const out = Buffer.alloc(n)
  let toOff = 0
  let startOff = this.offset
  let i = 0
  for (; toOff !== n && i < this.buffers.length; i++) {
    const buf = this.buffers[i]!
    const toCopy = Math.min(buf.length - startOff, n - toOff)
    buf.copy(out, toOff, startOff, startOff + toCopy)
    if (startOff + toCopy < buf.length) {
      this.offset = startOff + toCopy
      break
    }
    toOff += toCopy
    startOff = 0
  }
  this.buffers = this.buffers.slice(i)
  if (this.buffers.length === 0) this.offset = 0
  return out
}

/** The parts of http-deceiver 1.2's Deceiver that its `_emitEmpty` touches. */
interface Deceiver {
  socket: { ondata?: (data: Buffer, start: number, end: number) => void; emit(event: 'data', data: Buffer): boolean }
}

/** http-deceiver 1.2's `Deceiver#_emitEmpty` (which makes Node's HTTP parser handle an upgrade), with `Buffer.alloc(0)`. */
export function emitEmpty(this: Deceiver): void {
  const empty = Buffer.alloc(0)
  if (this.socket.ondata) this.socket.ondata(empty, 0, 0)
  else this.socket.emit('data', empty)
}
