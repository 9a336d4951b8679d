/**
 * pushManifest()'s options module: docs/options.md is what src/options/push-manifest.ts
 * generates, each JSDoc default agrees with the one defaults table, durations and sizes
 * take Express-style strings, and a renamed option still works with one warning.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { pushManifest, type PushManifest } from '../index.js'
import { CACHE_DIGEST_DEFAULTS, PUSH_MANIFEST_DEFAULTS, resolveOptions } from '../src/options/push-manifest.js'
import { defaultSentence, documentedOptions, OPTIONS_DOC, renderOptionsDoc } from './helpers/options-doc.js'

const root = fileURLToPath(new URL('../', import.meta.url))
const MANIFEST: PushManifest = { '/': { '/a.css': { type: 'style' } } }

/** The value a JSDoc "Default ..." sentence names, when it names a literal. */
function literal(sentence: string): unknown {
  const text = sentence.replace(/^Default:?\s*/, '').replace(/\.$/, '')
  const m = /^(\d+(?:\/\d+)?)(?: (MiB))?\b/.exec(text)
  if (m) {
    const [a, b] = m[1]!.split('/').map(Number) as [number, number | undefined]
    return (b === undefined ? a : a / b) * (m[2] ? 1024 * 1024 : 1)
  }
  if (/^(true|false)\b/.test(text)) return text.startsWith('true')
  const quoted = /^["']([^"']*)["']/.exec(text)
  return quoted ? quoted[1] : undefined
}

describe('options module', () => {
  test('docs/options.md is generated from src/options/push-manifest.ts (node --import tsx test/helpers/options-doc.ts)', () => {
    assert.equal(readFileSync(`${root}${OPTIONS_DOC}`, 'utf8'), renderOptionsDoc())
  })

  test("each option's JSDoc default is the one in the defaults table", () => {
    for (const [name, defaults] of [
      ['PushManifestOptions', PUSH_MANIFEST_DEFAULTS],
      ['CacheDigestOptions', CACHE_DIGEST_DEFAULTS],
    ] as const) {
      for (const option of documentedOptions(name)) {
        const sentence = defaultSentence(option.text)
        const entry = (defaults as Record<string, { value: unknown }>)[option.name]
        if (sentence === undefined) {
          assert.ok(entry === undefined || option.deprecated || option.name === 'cacheDigest', `${name}.${option.name}: no "Default" in its JSDoc`)
          continue
        }
        assert.ok(entry, `${name}.${option.name}: a default in its JSDoc, none in the table`)
        const named = literal(sentence)
        if (named !== undefined) assert.deepEqual(named, entry.value, `${name}.${option.name}: "${sentence}"`)
      }
    }
  })

  test('durations and sizes take Express-style strings; numbers keep working', () => {
    const strings = resolveOptions({
      manifest: MANIFEST,
      maxPushBytes: '1mb',
      maxPushBytesPerConnection: '512kb',
      pushTimeout: '30s',
      dispatchTimeout: '2s',
      fileRecheck: '1.5s',
      cacheDigest: { maxAge: '7d' },
    }).settings
    assert.equal(strings.maxPushBytes, 1024 * 1024)
    assert.equal(strings.maxPushBytesPerConnection, 512 * 1024)
    assert.equal(strings.pushTimeout, 30_000)
    assert.equal(strings.dispatchTimeout, 2000)
    assert.equal(strings.fileRecheckMs, 1500)
    assert.ok(strings.cacheDigest)
    assert.equal(strings.cacheDigest.maxAge, 7 * 24 * 3600)
    const numbers = resolveOptions({ manifest: MANIFEST, maxPushBytes: 25, pushTimeout: 300, fileRecheck: 0, cacheDigest: { maxAge: 60 } }).settings
    assert.deepEqual([numbers.maxPushBytes, numbers.pushTimeout, numbers.fileRecheckMs], [25, 300, 0])
    assert.ok(numbers.cacheDigest)
    assert.equal(numbers.cacheDigest.maxAge, 60)
    const defaults = resolveOptions({ manifest: MANIFEST }).settings
    assert.deepEqual([defaults.maxPushBytes, defaults.pushTimeout, defaults.fileRecheckMs], [1024 * 1024, 30_000, 1000])
  })

  test('a bad duration or size is refused at construction, naming the option, the value and the forms it takes', () => {
    for (const [options, message] of [
      [{ maxPushBytes: 'lots' }, /`maxPushBytes` must be a non-negative integer, got "lots" \(or a size string: "512kb", "1mb"\)/],
      [{ pushTimeout: 'soon' }, /`pushTimeout` must be a positive integer, got "soon" \(or a duration string: "30s", "1h"\)/],
      [{ dispatchTimeout: '0s' }, /`dispatchTimeout` must be a positive integer, got "0s"/],
      [{ fileRecheck: '-1s' }, /`fileRecheck` must be a non-negative number/],
      [{ cacheDigest: { maxAge: '500d' } }, /`cacheDigest.maxAge` is in seconds and at most 400 days/],
    ] as const) {
      assert.throws(() => pushManifest({ manifest: MANIFEST, watch: false, ...options } as never), { code: 'ERR_H2PUSH_INVALID_OPTION', message })
    }
  })

  test('fileRecheckMs, the old name of fileRecheck, still works with one DeprecationWarning; both names at once are refused', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      const options = Object.freeze({ manifest: MANIFEST, fileRecheckMs: 250 })
      assert.equal(resolveOptions(options).settings.fileRecheckMs, 250)
      assert.equal(resolveOptions(options).settings.fileRecheckMs, 250)
      assert.deepEqual(Object.keys(options), ['manifest', 'fileRecheckMs'], 'the caller’s options are not changed')
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off('warning', onWarning)
    }
    const renamed = warnings.filter((w) => (w as Error & { code?: string }).code === 'H2PUSH_DEP_FILE_RECHECK_MS')
    assert.equal(renamed.length, 1, 'warned once')
    assert.equal(renamed[0]!.name, 'DeprecationWarning')
    assert.match(renamed[0]!.message, /`fileRecheckMs` is renamed `fileRecheck`/)
    assert.throws(() => resolveOptions({ manifest: MANIFEST, fileRecheckMs: 1, fileRecheck: 2 }), {
      code: 'ERR_H2PUSH_INVALID_OPTION',
      message: /`fileRecheckMs` is the old name of `fileRecheck`: pass `fileRecheck` only/,
    })
  })
})
