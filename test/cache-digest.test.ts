/**
 * The cache digest codec: round trips, garbage in (never a throw), the measured
 * false-positive rate against the configured one, the cookie sizes, and forged cookies
 * (valid header and checksum, crafted bits) costing no more than a real one.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { CacheDigest, digestShape, hashKey, MAX_DIGEST_LENGTH, maxEncodedLength, type DecodeWork } from '../src/cache/digest.js'

const SHAPE = digestShape(1 / 128, 256)

function randomUrl(): string {
  return `/${randomBytes(9).toString('base64url')}.js W/"${randomBytes(4).toString('hex')}"`
}

describe('cache digest codec', () => {
  test('every key added is found after encode/decode (property, 500 runs)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 60 }), { maxLength: 256 }), (keys) => {
        const digest = new CacheDigest(SHAPE)
        for (const key of keys) assert.ok(digest.add(key))
        const back = CacheDigest.decode(digest.encode(), SHAPE)
        assert.ok(back)
        assert.equal(back.size, digest.size)
        for (const key of keys) assert.ok(back.has(key))
      }),
      { numRuns: 500 },
    )
  })

  test('garbage, truncated and flipped values decode to nothing, never throw (property, 1000 runs)', () => {
    const valid = new CacheDigest(SHAPE)
    for (let i = 0; i < 20; i++) valid.add(`/k${i}`)
    const text = valid.encode()
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.base64String({ maxLength: 400 }),
          fc.string({ minLength: 4097, maxLength: 6000 }),
          fc.nat({ max: text.length - 1 }).map((n) => text.slice(0, n)),
          fc
            .tuple(fc.nat({ max: text.length - 1 }), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'))
            .map(([i, c]) => text.slice(0, i) + c + text.slice(i + 1)),
        ),
        (value) => {
          const decoded = CacheDigest.decode(value, SHAPE)
          if (decoded !== undefined) assert.equal(value, text, 'only the untouched value decodes')
        },
      ),
      { numRuns: 1000 },
    )
  })

  test('a digest made with other parameters is not read', () => {
    const other = new CacheDigest(digestShape(1 / 64, 256))
    other.add('/a')
    assert.equal(CacheDigest.decode(other.encode(), SHAPE), undefined)
  })

  test('false-positive rate over 10 000 random URLs matches the configured 1/128 at capacity', () => {
    const digest = new CacheDigest(SHAPE)
    while (digest.size < digest.capacity) digest.add(randomUrl())
    // Expected rate: distinct values / universe = 256 / 2^15 = 1/128.
    const p = digest.size / 2 ** (SHAPE.p + SHAPE.capacityLog)
    assert.equal(p, 1 / 128)
    const trials = 10_000
    let hits = 0
    for (let i = 0; i < trials; i++) if (digest.has(randomUrl())) hits++
    const mean = trials * p
    const sd = Math.sqrt(trials * p * (1 - p))
    // Four standard deviations: a false failure about once in 16 000 runs.
    assert.ok(Math.abs(hits - mean) <= 4 * sd, `${hits} false positives, expected ${mean.toFixed(1)} ± ${(4 * sd).toFixed(1)}`)
  })

  test('cookie sizes for 10, 50 and 200 assets', () => {
    const sizes: Record<number, number> = {}
    for (const n of [10, 50, 200]) {
      const digest = new CacheDigest(SHAPE)
      for (let i = 0; i < n; i++) digest.add(`/assets/file-${i}.js W/"${i}-17"`)
      sizes[n] = digest.encode().length
    }
    // Golomb-Rice bound: n * (B - log2 n + 2) bits, plus 9 bytes of header and checksum, in base64.
    for (const n of [10, 50, 200]) {
      const bound = Math.ceil(((Math.ceil((n * (15 - Math.log2(n) + 2)) / 8) + 9) * 4) / 3)
      assert.ok(sizes[n]! <= bound, `${n} assets: ${sizes[n]} chars > ${bound}`)
    }
    assert.ok(sizes[200]! < 400)
  })

  test('hash values stay inside the universe', () => {
    for (let i = 0; i < 1000; i++) assert.ok(hashKey(randomUrl(), SHAPE) < 2 ** 15)
  })

  /** The largest digest of `n` values: every gap in the first one (the longest unary run). */
  function largest(n: number, shape = SHAPE): CacheDigest {
    const universe = 2 ** (shape.p + shape.capacityLog)
    return new CacheDigest(
      shape,
      Array.from({ length: n }, (_, i) => universe - n + i),
    )
  }

  /** A cookie with a valid header and checksum for `n` values, and `bodyBytes` bytes of `fill` as the gaps. */
  function forged(n: number, bodyBytes: number, fill: number): string {
    const payload = Buffer.concat([Buffer.from([1, SHAPE.p, SHAPE.capacityLog, n >> 8, n & 0xff]), Buffer.alloc(bodyBytes, fill)])
    return Buffer.concat([payload, createHash('sha256').update(payload).digest().subarray(0, 4)]).toString('base64url')
  }

  function workOf(text: string): DecodeWork & { decoded: number | undefined } {
    const work = { chars: 0, hashed: 0, bits: 0 }
    const decoded = CacheDigest.decode(text, SHAPE, work)?.size
    return { ...work, decoded }
  }

  test('maxEncodedLength is the length of the largest real digest of the shape', () => {
    let longest = 0
    for (let n = 0; n <= 256; n++) {
      const text = largest(n).encode()
      assert.equal(CacheDigest.decode(text, SHAPE)?.size, n, `the largest digest of ${n} values decodes`)
      longest = Math.max(longest, text.length)
    }
    assert.equal(maxEncodedLength(SHAPE), longest)
    assert.equal(longest, 396)
  })

  test('forged cookies up to 4 KB (valid checksum; all ones, all zeros, alternating) are refused with at most the work of the largest real digest', () => {
    const real = workOf(largest(256).encode())
    assert.equal(real.decoded, 256)
    assert.ok(real.chars > 0 && real.hashed > 0 && real.bits > 0, 'the work of a real decode is counted')
    const bodyFor4k = Math.floor((MAX_DIGEST_LENGTH * 3) / 4) - 9
    const bodyForMax = Math.floor((maxEncodedLength(SHAPE) * 3) / 4) - 9
    for (const n of [1, 2, 128, 255, 256]) {
      for (const fill of [0xff, 0x00, 0xaa, 0xfe]) {
        for (const bodyBytes of [bodyFor4k, bodyForMax, 40]) {
          const text = forged(n, bodyBytes, fill)
          assert.ok(text.length <= MAX_DIGEST_LENGTH)
          const work = workOf(text)
          const what = `n ${n}, ${bodyBytes} bytes of 0x${fill.toString(16)} (${text.length} chars): ${JSON.stringify(work)} vs real ${JSON.stringify(real)}`
          assert.equal(work.decoded, undefined, what)
          assert.ok(work.chars <= real.chars && work.hashed <= real.hashed && work.bits <= real.bits, what)
        }
      }
    }
    // Past the largest encoding of the shape: refused before it is read at all.
    assert.deepEqual(workOf(forged(256, bodyFor4k, 0xff)), { chars: 0, hashed: 0, bits: 0, decoded: undefined })
  })
})
