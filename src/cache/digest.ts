/**
 * The cache digest: a compact probabilistic set of "URL + ETag" keys the client was
 * pushed, kept in a cookie (like H2O's CASPer), so a returning client is not pushed
 * what it already holds.
 *
 * It is a Golomb-coded set over a fixed hash universe: each key hashes (SHA-256) to a
 * B-bit value, B = P + log2(capacity), where 2^-P is the false-positive rate at
 * capacity; the sorted distinct values are written as Golomb-Rice coded gaps. With n
 * keys the false-positive rate is about n / 2^B (1/128 at capacity by default, less
 * below it), and the size about n * (B - log2 n + 2) bits. A fixed universe (rather
 * than one sized to n) lets a digest grow one key at a time.
 *
 * Cookie value: base64url of [version, P, log2 capacity, n (2 bytes), Rice-coded gaps,
 * 4-byte SHA-256 checksum]. Anything that does not decode exactly (wrong version or
 * parameters, bad checksum, unsorted or out-of-range values, too long) is treated as
 * an empty digest.
 *
 * The checksum is no secret: anyone can forge a value that passes it. Decoding is
 * therefore bounded by the shape, not by the input: a value longer than the largest
 * encoding of any digest of the shape is refused before it is decoded or hashed, a
 * payload longer than the largest encoding of its `n` values before it is hashed, and
 * a unary run stops as soon as it would leave the hash universe. A forged cookie costs
 * at most what the largest real digest of the shape costs.
 */
import { createHash } from 'node:crypto'

const VERSION = 1
const HEADER_BYTES = 5
const CHECKSUM_BYTES = 4
/** A cookie value longer than this is ignored (browsers keep cookies up to 4096 bytes). */
export const MAX_DIGEST_LENGTH = 4096

export interface DigestShape {
  /** log2(1 / false-positive rate at capacity): 7 for 1/128. */
  readonly p: number
  /** log2(capacity): 8 for 256 keys. */
  readonly capacityLog: number
}

function universeBits(shape: DigestShape): number {
  return shape.p + shape.capacityLog
}

/** The B-bit hash of a key. */
export function hashKey(key: string, shape: DigestShape): number {
  const digest = createHash('sha256').update(key).digest()
  return digest.readUInt32BE(0) >>> (32 - universeBits(shape))
}

function riceParameter(n: number, bits: number): number {
  return Math.max(0, bits - Math.ceil(Math.log2(n + 1)))
}

/**
 * The most bits the Rice-coded gaps of `n` distinct values can take: n terminating zeros
 * and n * r remainder bits, plus unary ones for the quotients, whose sum is at most
 * (2^B - n) >> r (the gaps add up to at most 2^B - n; all of it in one gap is the worst).
 */
function maxGapBits(n: number, bits: number): number {
  if (n === 0) return 0
  const r = riceParameter(n, bits)
  return n * (r + 1) + Math.floor((2 ** bits - n) / 2 ** r)
}

/** The byte length of a cookie payload plus checksum holding `n` values, at most. */
function maxEncodedBytes(n: number, bits: number): number {
  return HEADER_BYTES + Math.ceil(maxGapBits(n, bits) / 8) + CHECKSUM_BYTES
}

const maxLengths = new Map<string, number>()

/**
 * The longest cookie value a digest of this shape encodes to (base64url, no padding), at
 * most MAX_DIGEST_LENGTH. Each value takes at least one bit, so no more than
 * 6 * MAX_DIGEST_LENGTH values can fit whatever the capacity.
 */
export function maxEncodedLength(shape: DigestShape): number {
  const key = `${shape.p}/${shape.capacityLog}`
  let length = maxLengths.get(key)
  if (length === undefined) {
    const bits = universeBits(shape)
    let bytes = 0
    for (let n = 0; n <= Math.min(2 ** shape.capacityLog, 6 * MAX_DIGEST_LENGTH); n++) bytes = Math.max(bytes, maxEncodedBytes(n, bits))
    length = Math.min(MAX_DIGEST_LENGTH, Math.ceil((bytes * 4) / 3))
    maxLengths.set(key, length)
  }
  return length
}

/** What one decode examined: cookie characters, bytes checksummed, gap bits read. */
export interface DecodeWork {
  chars: number
  hashed: number
  bits: number
}

function checksum(payload: Buffer): Buffer {
  return createHash('sha256').update(payload).digest().subarray(0, CHECKSUM_BYTES)
}

class BitWriter {
  readonly #bytes: number[] = []
  #current = 0
  #used = 0

  write(value: number, width: number): void {
    for (let i = width - 1; i >= 0; i--) this.bit((value >>> i) & 1)
  }

  bit(b: number): void {
    this.#current = (this.#current << 1) | b
    if (++this.#used === 8) {
      this.#bytes.push(this.#current)
      this.#current = 0
      this.#used = 0
    }
  }

  finish(): Buffer {
    if (this.#used > 0) this.#bytes.push(this.#current << (8 - this.#used))
    return Buffer.from(this.#bytes)
  }
}

class BitReader {
  #position = 0
  constructor(readonly bytes: Buffer) {}

  get remaining(): number {
    return this.bytes.length * 8 - this.#position
  }

  /** Bits read so far. */
  get position(): number {
    return this.#position
  }

  bit(): number {
    if (this.#position >= this.bytes.length * 8) throw new RangeError('end of digest')
    const byte = this.bytes[this.#position >> 3]!
    const b = (byte >> (7 - (this.#position & 7))) & 1
    this.#position++
    return b
  }

  read(width: number): number {
    let value = 0
    for (let i = 0; i < width; i++) value = value * 2 + this.bit()
    return value
  }
}

export class CacheDigest {
  readonly shape: DigestShape
  readonly #values: Set<number>

  constructor(shape: DigestShape, values: Iterable<number> = []) {
    this.shape = shape
    this.#values = new Set(values)
  }

  get size(): number {
    return this.#values.size
  }

  get capacity(): number {
    return 2 ** this.shape.capacityLog
  }

  has(key: string): boolean {
    return this.#values.has(hashKey(key, this.shape))
  }

  /** Adds a key; false (and nothing added) when the digest is full. */
  add(key: string): boolean {
    const value = hashKey(key, this.shape)
    if (this.#values.has(value)) return true
    if (this.#values.size >= this.capacity) return false
    this.#values.add(value)
    return true
  }

  encode(): string {
    const sorted = [...this.#values].sort((a, b) => a - b)
    const bits = universeBits(this.shape)
    const r = riceParameter(sorted.length, bits)
    const header = Buffer.from([VERSION, this.shape.p, this.shape.capacityLog, sorted.length >> 8, sorted.length & 0xff])
    const writer = new BitWriter()
    let previous = -1
    for (const value of sorted) {
      const gap = value - previous - 1
      previous = value
      for (let q = gap >>> r; q > 0; q--) writer.bit(1)
      writer.bit(0)
      writer.write(gap & ((1 << r) - 1), r)
    }
    const payload = Buffer.concat([header, writer.finish()])
    return Buffer.concat([payload, checksum(payload)]).toString('base64url')
  }

  /**
   * Decodes a cookie value; `undefined` for anything that is not exactly a digest of this
   * shape. `work`, when given, is increased by what this decode examined.
   */
  static decode(text: string, shape: DigestShape, work?: DecodeWork): CacheDigest | undefined {
    if (typeof text !== 'string' || text.length === 0 || text.length > maxEncodedLength(shape)) return undefined
    if (work) work.chars += text.length
    if (!/^[A-Za-z0-9_-]+$/.test(text)) return undefined
    const bytes = Buffer.from(text, 'base64url')
    if (bytes.length < HEADER_BYTES + CHECKSUM_BYTES || bytes.toString('base64url') !== text) return undefined
    const [version, p, capacityLog, high, low] = bytes
    if (version !== VERSION || p !== shape.p || capacityLog !== shape.capacityLog) return undefined
    const n = (high! << 8) | low!
    if (n > 2 ** shape.capacityLog) return undefined
    const bits = universeBits(shape)
    if (bytes.length > maxEncodedBytes(n, bits)) return undefined
    const payload = bytes.subarray(0, bytes.length - CHECKSUM_BYTES)
    if (work) work.hashed += payload.length
    if (!checksum(payload).equals(bytes.subarray(bytes.length - CHECKSUM_BYTES))) return undefined
    const r = riceParameter(n, bits)
    const reader = new BitReader(payload.subarray(HEADER_BYTES))
    try {
      return readValues(reader, n, bits, r, shape)
    } finally {
      if (work) work.bits += reader.position
    }
  }
}

/** The `n` Rice-coded values and the padding after them; `undefined` unless exact. */
function readValues(reader: BitReader, n: number, bits: number, r: number, shape: DigestShape): CacheDigest | undefined {
  const universe = 2 ** bits
  const values: number[] = []
  let previous = -1
  try {
    for (let i = 0; i < n; i++) {
      // The largest quotient that keeps this value (and the n - i - 1 after it) inside the universe.
      const maxQ = Math.floor((universe - (n - i) - (previous + 1)) / 2 ** r)
      let q = 0
      while (reader.bit() === 1) if (++q > maxQ) return undefined
      const value = previous + 1 + q * 2 ** r + reader.read(r)
      if (value > universe - (n - i)) return undefined
      values.push(value)
      previous = value
    }
  } catch {
    return undefined
  }
  // Only zero padding may follow, less than a byte of it.
  if (reader.remaining >= 8 || reader.read(reader.remaining) !== 0) return undefined
  return new CacheDigest(shape, values)
}

/** The digest shape for a false-positive rate at a capacity. */
export function digestShape(falsePositiveRate: number, capacity: number): DigestShape {
  return { p: Math.ceil(Math.log2(1 / falsePositiveRate)), capacityLog: Math.ceil(Math.log2(capacity)) }
}

/** The key a pushed response is remembered by: its URL and its validator. */
export function cacheKey(url: string, etag: unknown, lastModified: unknown): string {
  return `${url} ${typeof etag === 'string' ? etag : typeof lastModified === 'string' ? lastModified : ''}`
}
