/**
 * Request header blocks decoded a byte at a time.
 *
 * hpack.js's Decompressor decodes bit by bit: each representation's flags one `decodeBit`
 * at a time, every byte read through an OffsetBuffer, a Huffman string by walking a tree
 * with an array of byte values per string, joined with one `String.fromCharCode` per
 * character. In `PERF=1 npm run bench:cold-load` that was 0.45 ms of spdy's 24 ms of server
 * CPU per cold page load (eleven requests), nearly all of it decoding.
 *
 * Here a whole block (HEADERS and its CONTINUATIONs, joined) is decoded in one call against
 * the Decompressor's own table, hpack.js's Table: the same static table, the same dynamic
 * entries, size accounting and eviction (`add`, `updateSize`), so the results are hpack.js's
 * own: names and values as latin1 strings, one character per byte. Huffman strings go
 * through a state machine that takes 4 bits a step (as nghttp2's decoder does), built once
 * from hpack.js's code table. A malformed block throws an `HpackError` that says what was
 * wrong and where (the byte offset in the block), a COMPRESSION_ERROR for the connection; a
 * header list that adds up to more than the limit stops decoding as soon as it does
 * (`HeaderListTooLarge`: an HPACK bomb, a small block of references to one large entry).
 */
import type { Field } from './header-rules.js'

/** hpack.js's Huffman code of each symbol (0–255, and 256 for EOS): [length in bits, code]. */
export type HuffmanCodes = ReadonlyArray<readonly [number, number]>

interface TableEntry {
  name: string
  value: string
}

/** What the decoder uses of hpack.js's Table (lib/hpack/table.js). */
export interface HpackDecodeTable {
  static: { table: readonly TableEntry[] }
  dynamic: readonly TableEntry[]
  /** Entries in the static and dynamic tables together: the highest valid index. */
  length: number
  /** The largest size SETTINGS_HEADER_TABLE_SIZE allows: a size update above it is an error. */
  protocolMaxSize: number
  add(name: string, value: string, nameSize: number, valueSize: number): void
  updateSize(size: number): void
}

/** A decoding error of RFC 7541: the connection's COMPRESSION_ERROR. */
export class HpackError extends Error {
  override name = 'HpackError'
}

/** A header list that decodes past the limit: decoding stops, and the HPACK state with it (a connection error). */
export class HeaderListTooLarge extends Error {
  override name = 'HeaderListTooLarge'
}

/** `SYMBOL` of a step that emits nothing; of a step that decodes EOS. */
const NONE = -1
const EOS = -2
const EOS_INSIDE = 'EOS inside a Huffman-coded string (RFC 7541 section 5.2)'

interface Machine {
  /** By `state << 4 | nibble`: the state after the nibble. */
  next: Uint8Array
  /** By `state << 4 | nibble`: the byte the nibble completes, `NONE`, or `EOS`. */
  symbol: Int16Array
  /** By state: 1 where a string may end (no bits pending, or fewer than 8 of EOS's leading ones: RFC 7541 §5.2). */
  accepts: Uint8Array
}

/**
 * The decoding state machine of a Huffman code. A state is an inner node of the code's tree
 * (256 of them for 257 symbols); a step takes 4 bits from a state, and completes at most one
 * symbol, since the shortest code is 5 bits long.
 */
export function huffmanMachine(codes: HuffmanCodes): Machine {
  // The tree: inner nodes are numbered as they are made, from 0 (the root); a child is an inner node's
  // number, ~symbol for a leaf, or 0 while not made yet (the root is nobody's child).
  const children: number[][] = [[0, 0]]
  for (let symbol = 0; symbol < codes.length; symbol++) {
    const [length, code] = codes[symbol]!
    let node = 0
    for (let bit = length - 1; bit > 0; bit--) {
      const side = (code >>> bit) & 1
      if (children[node]![side] === 0) {
        children.push([0, 0])
        children[node]![side] = children.length - 1
      }
      node = children[node]![side]!
    }
    children[node]![code & 1] = ~symbol
  }
  const states = children.length
  if (states > 256) throw new Error(`a Huffman code of ${codes.length} symbols has ${states} inner nodes: more than a byte numbers`)
  const next = new Uint8Array(states * 16)
  const symbol = new Int16Array(states * 16).fill(NONE)
  for (let state = 0; state < states; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[node]![(nibble >>> bit) & 1]!
        if (child >= 0) {
          node = child
          continue
        }
        symbol[(state << 4) | nibble] = ~child === codes.length - 1 ? EOS : ~child
        node = 0
      }
      next[(state << 4) | nibble] = node
    }
  }
  const accepts = new Uint8Array(states)
  accepts[0] = 1
  for (let depth = 1, node = 0; depth <= 7; depth++) {
    node = children[node]![1]!
    if (node < 0) break
    accepts[node] = 1
  }
  return { next, symbol, accepts }
}

const EMPTY = Buffer.alloc(0)
/** The largest scratch buffer a decoder keeps between strings (a Huffman-coded value of 10 KB and more gets its own). */
const LARGEST_SCRATCH = 16384
/** A reusable decoder: the Huffman machine of one code table, and a scratch buffer for decoded strings. */
export class HpackBlockDecoder {
  readonly #machine: Machine
  #scratch = Buffer.allocUnsafe(1024)
  // The block being decoded, and where in it, for the length of one (synchronous) `decode`.
  #block: Buffer = EMPTY
  #pos = 0

  constructor(codes: HuffmanCodes) {
    this.#machine = huffmanMachine(codes)
  }

  /**
   * The fields of one whole header block, in order, decoded against `table` (which the
   * block's literals with incremental indexing and size updates change, as the RFC says).
   * Throws `HpackError` on a malformed block, `HeaderListTooLarge` once the fields' sizes
   * (name + value + 32 each, RFC 9113 §6.5.2) add up to more than `maxListSize`.
   */
  decode(table: HpackDecodeTable, block: Buffer, maxListSize: number): Field[] {
    this.#block = block
    this.#pos = 0
    const fields: Field[] = []
    let listSize = 0
    try {
      const end = block.length
      while (this.#pos < end) {
        const at = this.#pos
        const first = block[at]!
        let name: string
        let value: string
        if (first & 0x80) {
          // Indexed field (§6.1).
          const entry = this.#entry(table, this.#integer(7), at)
          name = entry.name
          value = entry.value
        } else if (first & 0x40) {
          // Literal with incremental indexing (§6.2.1).
          const index = this.#integer(6)
          name = index === 0 ? this.#string() : this.#entry(table, index, at).name
          value = this.#string()
          table.add(name, value, name.length, value.length)
        } else if (first & 0x20) {
          // Dynamic table size update (§6.3), only at the start of a block (§4.2).
          if (fields.length > 0) throw this.#error('a dynamic table size update after a header field (RFC 7541 section 4.2)', at)
          const size = this.#integer(5)
          if (size > table.protocolMaxSize) {
            throw this.#error(`a dynamic table size update to ${size}, above SETTINGS_HEADER_TABLE_SIZE ${table.protocolMaxSize} (RFC 7541 section 6.3)`, at)
          }
          table.updateSize(size)
          continue
        } else {
          // Literal without indexing, or never indexed (§6.2.2, §6.2.3): a 4-bit prefix either way.
          const index = this.#integer(4)
          name = index === 0 ? this.#string() : this.#entry(table, index, at).name
          value = this.#string()
        }
        listSize += name.length + value.length + 32
        if (listSize > maxListSize) throw new HeaderListTooLarge(`header list over ${maxListSize} bytes`)
        fields.push({ name, value })
      }
    } finally {
      this.#block = EMPTY
    }
    return fields
  }

  /** The message goes out in the GOAWAY's debug data too: ASCII only. */
  #error(what: string, at: number): HpackError {
    return new HpackError(`HPACK: ${what}, at byte ${at} of a ${this.#block.length}-byte header block`)
  }

  /** Entry `index` of the static and dynamic tables, for the field that starts at byte `at`. */
  #entry(table: HpackDecodeTable, index: number, at: number): TableEntry {
    if (index === 0) throw this.#error('index 0 (RFC 7541 section 6.1)', at)
    if (index > table.length) throw this.#error(`index ${index}, past the table's ${table.length} entries`, at)
    const fixed = table.static.table
    return index <= fixed.length ? fixed[index - 1]! : table.dynamic[table.length - index]!
  }

  /** An integer with an N-bit prefix (§5.1); at most 4 continuation bytes, as hpack.js takes. */
  #integer(prefixBits: number): number {
    const block = this.#block
    const start = this.#pos
    const max = (1 << prefixBits) - 1
    let value = block[start]! & max
    this.#pos = start + 1
    if (value < max) return value
    for (let shift = 0; shift <= 21; shift += 7) {
      if (this.#pos >= block.length) throw this.#error('an integer cut off by the end of the block', start)
      const octet = block[this.#pos++]!
      value += (octet & 0x7f) << shift
      if ((octet & 0x80) === 0) return value
    }
    throw this.#error('an integer of more than 4 continuation bytes', start)
  }

  /** A string literal (§5.2): raw or Huffman-coded, as latin1 (one character per byte). */
  #string(): string {
    const block = this.#block
    const at = this.#pos
    if (at >= block.length) throw this.#error('a string missing at the end of the block', at)
    const huffman = (block[at]! & 0x80) !== 0
    const length = this.#integer(7)
    const start = this.#pos
    if (length > block.length - start) throw this.#error(`a string of ${length} bytes, longer than the ${block.length - start} left in the block`, at)
    this.#pos = start + length
    return huffman ? this.#huffman(start, start + length, at) : block.toString('latin1', start, start + length)
  }

  #huffman(start: number, end: number, at: number): string {
    const block = this.#block
    const { next, symbol, accepts } = this.#machine
    // The shortest code is 5 bits: at most 8 bytes out of 5 in. A string too long for the kept scratch
    // buffer gets one of its own, so that one large header does not pin a large buffer for good.
    const most = Math.ceil(((end - start) * 8) / 5)
    if (this.#scratch.length < most && most <= LARGEST_SCRATCH)
      this.#scratch = Buffer.allocUnsafe(Math.min(LARGEST_SCRATCH, Math.max(most, this.#scratch.length * 2)))
    const out = most <= this.#scratch.length ? this.#scratch : Buffer.allocUnsafe(most)
    let length = 0
    let state = 0
    for (let i = start; i < end; i++) {
      const byte = block[i]!
      let step = (state << 4) | (byte >>> 4)
      let decoded = symbol[step]!
      if (decoded >= 0) out[length++] = decoded
      else if (decoded === EOS) throw this.#error(EOS_INSIDE, at)
      state = next[step]!
      step = (state << 4) | (byte & 0x0f)
      decoded = symbol[step]!
      if (decoded >= 0) out[length++] = decoded
      else if (decoded === EOS) throw this.#error(EOS_INSIDE, at)
      state = next[step]!
    }
    if (accepts[state] === 0) {
      throw this.#error('a Huffman-coded string whose padding is not the 1 to 7 leading bits of EOS (RFC 7541 section 5.2)', at)
    }
    return out.toString('latin1', 0, length)
  }
}
