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
 *
 * The block itself is written by `encodeHeaderBlock` below, not by hpack.js's Encoder: the
 * same decisions against the Compressor's own dynamic table (its `reverseLookup` and `add`),
 * the same bits, in one scratch buffer copied out once. hpack.js's Encoder made a WriteBuffer
 * per block, an array of byte values per name and value (`utils.toArray`), an array of Huffman
 * codes per string, and wrote bit by bit; in the allocation profile of Express on spdy that
 * was the largest site left in spdy-transport's response path.
 */

import { IncomingMessage, ServerResponse, type OutgoingHttpHeaders } from 'node:http'
import { takeTableSizes } from './table-size.js'

interface HpackTable {
  reverseLookup(name: string, value: string): number
  add(name: string, value: string, nameSize: number, valueSize: number): void
}

interface HpackCompressor {
  _table: HpackTable
  _readableState: { length: number; flowing: boolean | null }
  read(): Buffer | null
}

/** A header as spdy-transport's framer hands it to the compressor. */
interface HeaderPair {
  name: string
  value: string
  neverIndex?: boolean
  huffman?: boolean
  incremental?: boolean
}

/** hpack.js's Huffman code of each byte: [length in bits, code]. */
type HuffmanTable = ReadonlyArray<readonly [number, number]>

/** Bytes and bits of one header block, MSB first, as hpack.js's Encoder writes them. */
class BlockWriter {
  buffer = Buffer.allocUnsafe(4096)
  pos = 0
  /** The bits of the byte under way (the low `bits` bits), and how many. */
  word = 0
  bits = 0

  byte(value: number): void {
    if (this.pos === this.buffer.length) {
      const bigger = Buffer.allocUnsafe(2 * this.buffer.length)
      this.buffer.copy(bigger)
      this.buffer = bigger
    }
    this.buffer[this.pos++] = value
  }

  bit(bit: number): void {
    this.word = (this.word << 1) | bit
    if (++this.bits === 8) {
      this.byte(this.word)
      this.word = 0
      this.bits = 0
    }
  }

  /** An integer in the rest of the byte under way as its prefix (RFC 7541 §5.1; hpack.js's `encodeInt`). */
  int(value: number): void {
    const prefix = 8 - this.bits
    const max = (1 << prefix) - 1
    const head = this.word << prefix
    this.word = 0
    this.bits = 0
    if (value < max) {
      this.byte(head | value)
      return
    }
    let left = value - max
    this.byte(head | max)
    do {
      let octet = left & 0x7f
      left >>= 7
      if (left !== 0) octet |= 0x80
      this.byte(octet)
    } while (left !== 0)
  }

  /** A string as hpack.js writes it: each character one byte, or two (high, low) above 255; Huffman-coded unless `huffman` is false. */
  string(text: string, huffman: boolean, codes: HuffmanTable): void {
    this.bit(huffman ? 1 : 0)
    if (!huffman) {
      this.int(byteLength(text))
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i)
        if (c >>> 8) this.byte(c >>> 8)
        this.byte(c & 0xff)
      }
      return
    }
    const { lengths, bits } = huffmanArrays(codes)
    let length = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c >>> 8) length += lengths[c >>> 8]!
      length += lengths[c & 0xff]!
    }
    const pad = length % 8 === 0 ? 0 : 8 - (length % 8)
    const bytes = (length + pad) / 8
    this.int(bytes)
    this.room(bytes)
    // The codes, MSB first, through a register (`acc`, its low `held` bits) of at most 31 bits: the
    // bits not yet written (fewer than 8) and one code of up to 24 bits; longer codes (up to 30 bits,
    // for a few control and high bytes) go in two parts.
    let acc = 0
    let held = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      // A character above 255 is two bytes, high then low (hpack.js's `utils.toArray`).
      let left = c >>> 8 ? 2 : 1
      let b = left === 2 ? c >>> 8 : c & 0xff
      for (;;) {
        const len = lengths[b]!
        const code = bits[b]!
        if (len > 24) {
          acc = (acc << (len - 16)) | (code >>> 16)
          held += len - 16
          while (held >= 8) {
            held -= 8
            this.buffer[this.pos++] = (acc >>> held) & 0xff
          }
          acc = (acc << 16) | (code & 0xffff)
          held += 16
        } else {
          acc = (acc << len) | code
          held += len
        }
        while (held >= 8) {
          held -= 8
          this.buffer[this.pos++] = (acc >>> held) & 0xff
        }
        acc &= (1 << held) - 1
        if (--left === 0) break
        b = c & 0xff
      }
    }
    if (pad !== 0) this.buffer[this.pos++] = ((acc << pad) | (0xff >>> (8 - pad))) & 0xff
  }

  /** Room for `bytes` more bytes at `pos`. */
  room(bytes: number): void {
    if (this.pos + bytes <= this.buffer.length) return
    let size = 2 * this.buffer.length
    while (size < this.pos + bytes) size *= 2
    const bigger = Buffer.allocUnsafe(size)
    this.buffer.copy(bigger, 0, 0, this.pos)
    this.buffer = bigger
  }
}

/** hpack.js's Huffman table as two typed arrays (each byte's code length, and its code), made once per table. */
const huffmanCache = new WeakMap<HuffmanTable, { lengths: Uint8Array; bits: Uint32Array }>()
function huffmanArrays(codes: HuffmanTable): { lengths: Uint8Array; bits: Uint32Array } {
  let arrays = huffmanCache.get(codes)
  if (arrays === undefined) {
    arrays = { lengths: new Uint8Array(256), bits: new Uint32Array(256) }
    for (let b = 0; b < 256; b++) {
      arrays.lengths[b] = codes[b]![0]
      arrays.bits[b] = codes[b]![1]
    }
    huffmanCache.set(codes, arrays)
  }
  return arrays
}

/** How many bytes hpack.js makes of `text` (`utils.toArray(text).length`). */
function byteLength(text: string): number {
  let length = text.length
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 255) length++
  return length
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
  huffman: { encode: HuffmanTable }
}

const writer = new BlockWriter()

/** One field, as hpack.js's Compressor `_encodeHeader` encodes it, against its dynamic `table`. */
function encodeField(w: BlockWriter, table: HpackTable, header: HeaderPair, codes: HuffmanTable): void {
  let index = 0
  let isIncremental = false
  if (!header.neverIndex) {
    index = table.reverseLookup(header.name, header.value)
    if (index > 0) {
      w.bit(1)
      w.int(index)
      return
    }
    isIncremental = header.incremental !== false
  }
  w.bit(0)
  w.bit(isIncremental ? 1 : 0)
  if (isIncremental) {
    table.add(header.name, header.value, byteLength(header.name), byteLength(header.value))
  } else {
    w.bit(0)
    w.bit(header.neverIndex ? 1 : 0)
  }
  w.int(-index)
  const huffman = header.huffman !== false
  if (index === 0) w.string(header.name, huffman, codes)
  w.string(header.value, huffman, codes)
}

function startBlock(): BlockWriter {
  writer.pos = 0
  writer.word = 0
  writer.bits = 0
  return writer
}

function endBlock(w: BlockWriter): Buffer {
  const block = Buffer.allocUnsafe(w.pos)
  w.buffer.copy(block, 0, 0, w.pos)
  // A block that grew the scratch buffer past 64 KB: do not keep the big one.
  if (w.buffer.length > 64 * 1024) w.buffer = Buffer.allocUnsafe(4096)
  return block
}

/**
 * One header block, byte for byte as hpack.js's Compressor encodes `headers` (its
 * `_encodeHeader` per header), updating the Compressor's dynamic `table` as it would.
 */
export function encodeHeaderBlock(table: HpackTable, headers: readonly HeaderPair[], codes: HuffmanTable): Buffer {
  const w = startBlock()
  for (let i = 0; i < headers.length; i++) encodeField(w, table, headers[i]!, codes)
  return endBlock(w)
}

/** Dynamic table size updates (001 and the size as a 5-bit-prefix integer, RFC 7541 §6.3), one after another. */
export function encodeSizeUpdates(sizes: readonly number[]): Buffer {
  const w = startBlock()
  for (const size of sizes) {
    w.bit(0)
    w.bit(0)
    w.bit(1)
    w.int(size)
  }
  return endBlock(w)
}

/** The field spdy-transport's `_compressHeaders` makes of a header (reused: encodeField reads it at once). */
const field: HeaderPair = { name: '', value: '', neverIndex: false, huffman: true }

/**
 * The block spdy-transport's `Framer#_compressHeaders` makes of `pairs` (pseudo-headers)
 * and the header object `headers`: the same fields in the same order (names lowercased;
 * connection-specific fields and pseudo-headers in `headers` dropped; an array value one field
 * per element; `cookie` and `set-cookie` never indexed and not Huffman-coded), encoded as
 * they are read, without a field object per header.
 */
export function encodeHeaderObject(
  table: HpackTable,
  pairs: readonly HeaderPair[],
  headers: Readonly<Record<string, unknown>> | null | undefined,
  codes: HuffmanTable,
): Buffer {
  const w = startBlock()
  for (let i = 0; i < pairs.length; i++) encodeField(w, table, pairs[i]!, codes)
  const fields = headers || {}
  const names = Object.keys(fields)
  for (let i = 0; i < names.length; i++) encodeHeader(w, table, names[i]!, fields[names[i]!], codes)
  return endBlock(w)
}

/**
 * The same block from Node's own table of a response's headers (`res[kOutHeaders]`: each
 * lowercase name to `[name as set, value]`), in the order `res.getHeaders()` would list them,
 * without the copy `getHeaders()` makes.
 */
export function encodeOutHeaders(
  table: HpackTable,
  pairs: readonly HeaderPair[],
  out: Readonly<Record<string, readonly [string, unknown]>> | null,
  codes: HuffmanTable,
): Buffer {
  const w = startBlock()
  for (let i = 0; i < pairs.length; i++) encodeField(w, table, pairs[i]!, codes)
  if (out) {
    const names = Object.keys(out)
    // The table's names are lower case already (Node's `setHeader` keys it by `name.toLowerCase()`).
    for (let i = 0; i < names.length; i++) encodeLowerHeader(w, table, names[i]!, out[names[i]!]![1], codes)
  }
  return endBlock(w)
}

/** One header of a header object, as spdy-transport's `_compressHeaders` turns it into fields. */
function encodeHeader(w: BlockWriter, table: HpackTable, name: string, value: unknown, codes: HuffmanTable): void {
  encodeLowerHeader(w, table, name.toLowerCase(), value, codes)
}

/** encodeHeader for a name in lower case. */
function encodeLowerHeader(w: BlockWriter, table: HpackTable, lowName: string, value: unknown, codes: HuffmanTable): void {
  switch (lowName) {
    case 'host':
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'upgrade':
      return
  }
  if (lowName.charCodeAt(0) === 58 /* ':' */) return
  const neverIndex = lowName === 'cookie' || lowName === 'set-cookie'
  field.name = lowName
  field.neverIndex = neverIndex
  field.huffman = !neverIndex
  if (Array.isArray(value)) {
    for (let j = 0; j < value.length; j++) {
      field.value = value[j] + ''
      encodeField(w, table, field, codes)
    }
  } else {
    field.value = typeof value === 'string' ? value : value + ''
    encodeField(w, table, field, codes)
  }
}

/** A response's own header table, handed through spdy-transport's `respond` in place of a `getHeaders()` copy. */
const OUT_HEADERS = Symbol('express-h2-push.out-headers')

interface OutHeaders {
  [OUT_HEADERS]: Readonly<Record<string, readonly [string, unknown]>> | null
}

/** Node's private symbol for a response's header table, found on a fresh response. */
const kOutHeaders = Object.getOwnPropertySymbols(new ServerResponse(new IncomingMessage(null as never))).find((s) => s.description === 'kOutHeaders')

/**
 * What to hand `stream.respond()` for `res`'s headers: Node's own header table, wrapped, when
 * this Node has one under the name this layer knows; `res.getHeaders()` otherwise. Only the
 * framer's `_compressHeaders` (compressHeaderObjectsDirectly) reads it.
 */
export function responseHeaders(res: ServerResponse): OutgoingHttpHeaders {
  if (kOutHeaders === undefined) return res.getHeaders()
  return { [OUT_HEADERS]: (res as unknown as Record<symbol, OutHeaders[typeof OUT_HEADERS]>)[kOutHeaders] ?? null } as unknown as OutgoingHttpHeaders
}

/** The header object spdy-transport's own `_compressHeaders` expects, from a wrapped table. */
function plainHeaders(headers: Record<string, unknown> | null | undefined): Record<string, unknown> | null | undefined {
  const out = (headers as Partial<OutHeaders> | null | undefined)?.[OUT_HEADERS]
  if (out === undefined) return headers
  const plain: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  if (out) for (const name of Object.keys(out)) plain[name] = out[name]![1]
  return plain
}

/**
 * Whether `lock` (a framer's LockStream) may encode a block directly now: a server's, idle, its
 * Compressor holding no output of its own, or holding it in a paused buffer that `pendingOutput` takes.
 */
function encodesDirectly(lock: LockStream, Compressor: HpackModule['compressor']): boolean {
  const compressor = lock.stream as HpackCompressor
  if (lock[direct] !== true || lock.locked || lock.queue.length !== 0 || !(compressor instanceof Compressor)) return false
  const state = compressor._readableState
  return state.length === 0 || state.flowing !== true
}

/**
 * What goes in front of the next block: the dynamic table size updates recorded since the last one
 * (table-size.ts: the client changed SETTINGS_HEADER_TABLE_SIZE; Chromium sends 65 536 in its first
 * SETTINGS), after anything the Compressor holds in its paused buffer. On spdy-transport's path the
 * Compressor's `_write` pushes them and the LockStream's 'data' listener reads them before the
 * block; here they go first in the block's chunks, the same bytes. (Without this, each
 * connection's first response took spdy-transport's path, and hpack.js's own Encoder ran, cold,
 * once per connection.)
 */
function pendingOutput(compressor: HpackCompressor): Buffer | null {
  const held = compressor._readableState.length === 0 ? null : (compressor.read() as Buffer | null)
  const sizes = takeTableSizes(compressor)
  const updates = sizes === null ? null : encodeSizeUpdates(sizes)
  if (held === null) return updates
  return updates === null ? held : Buffer.concat([held, updates])
}

type CompressHeaders = (
  this: { compress: LockStream | null },
  headers: Record<string, unknown> | null | undefined,
  pairs: HeaderPair[],
  callback: (err: Error | null, chunks?: Buffer[]) => void,
) => void

/**
 * Wraps spdy-transport's HTTP/2 `Framer#_compressHeaders`: on a direct compressor the block is
 * encoded from the header object in one pass (encodeHeaderObject) and handed to the framer on
 * the next tick, as writeHeaderBlock hands it.
 */
export function compressHeaderObjectsDirectly(compressHeaders: CompressHeaders, hpack: HpackModule): CompressHeaders {
  const codes = hpack.huffman.encode
  return function compressHeadersInOnePass(headers, pairs, callback): void {
    const lock = this.compress
    if (!lock || !encodesDirectly(lock, hpack.compressor)) return compressHeaders.call(this, plainHeaders(headers), pairs, callback)
    const compressor = lock.stream as HpackCompressor
    const pending = pendingOutput(compressor)
    const table = compressor._table
    const out = (headers as Partial<OutHeaders> | null | undefined)?.[OUT_HEADERS]
    const block = out === undefined ? encodeHeaderObject(table, pairs, headers, codes) : encodeOutHeaders(table, pairs, out, codes)
    process.nextTick(callback, null, pending === null ? [block] : [pending, block])
  }
}

/** Wraps spdy-transport's `LockStream#write` so that hpack.js Compressors encode directly. */
export function compressHeadersDirectly(write: LockWrite, hpack: HpackModule): LockWrite {
  const Compressor = hpack.compressor
  const codes = hpack.huffman.encode
  return function writeHeaderBlock(this: LockStream, chunks, callback): void {
    const compressor = this.stream as HpackCompressor
    if (!encodesDirectly(this, Compressor)) {
      write.call(this, chunks, callback)
      return
    }
    for (const headers of chunks) {
      if (!Array.isArray(headers)) {
        // Not a header list: let hpack.js report it as it always did.
        write.call(this, chunks, callback)
        return
      }
    }
    const pending = pendingOutput(compressor)
    const output: Buffer[] = pending === null ? [] : [pending]
    for (const headers of chunks) output.push(encodeHeaderBlock(compressor._table, headers as HeaderPair[], codes))
    process.nextTick(callback, null, output)
  }
}

type OnVersion = (this: { _spdyState: { isServer: boolean; framer: { compress: LockStream | null } } }, version: number) => void

/** Wraps spdy-transport's `Connection#_onVersion`, which gives the framer its compressor: a server's encodes directly. */
/** Marks a framer's LockStream as a server's, which encodes directly (as directOnServers does on connections). */
export function encodeDirectly(lock: object): void {
  ;(lock as LockStream)[direct] = true
}

export function directOnServers(onVersion: OnVersion): OnVersion {
  return function onVersionMarkingServers(this, version): void {
    onVersion.call(this, version)
    const { isServer, framer } = this._spdyState
    if (isServer && framer.compress) framer.compress[direct] = true
  }
}
