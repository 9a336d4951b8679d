/**
 * Loading push manifests: a table of bad manifests, each with its exact code and
 * JSON pointer; syntax errors with line and column; the good formats users have;
 * non-ASCII URLs, percent-encoded once and served over both transports.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compileManifest, loadManifestFile, OBJECT_SOURCE, parseManifestText, readManifestFile, type PushManifestEntry } from '../src/manifest/load.js'
import { ENTRY_TYPES, PUSH_DESTINATIONS, pushManifestSchema } from '../src/manifest/schema.js'
import express from 'express'
import { pushManifest, PushManifestError, type PushManifest } from '../index.js'
import { h2get } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'

const LIMITS = { maxEntriesPerRoute: 4 }

const BAD: Array<[name: string, manifest: unknown, pointer: string, message: RegExp]> = [
  ['not an object', [], '', /must be a JSON object/],
  ['a string', 'x', '', /must be a JSON object/],
  ['route key without a slash', { about: { '/a.css': { type: 'style' } } }, '/about', /route key "about" is not a route pattern/],
  ['route key that is a full URL', { 'https://x.example/': { '/a.css': { type: 'style' } } }, '/https:~1~1x.example~1', /not a route pattern/],
  ['html key with traversal', { '../secret.html': { '/a.css': { type: 'style' } } }, '/..~1secret.html', /not a route pattern/],
  ['entries not an object', { '/': ['/a.css'] }, '/~1', /entries of a route must be an object/],
  ['entry not an object', { '/': { '/a.css': 'style' } }, '/~1/~1a.css', /an entry must be an object/],
  ['entry without type', { '/': { '/a.css': {} } }, '/~1/~1a.css/type', /the entry has no "type"/],
  [
    'misspelled type key',
    { '/': { '/a.css': { tpye: 'style' } } },
    '/~1/~1a.css/tpye',
    /unknown field "tpye" in an entry, which has no "type"\. Fix: did you mean "type"\? rename "tpye" to "type"/,
  ],
  [
    'misspelled type key among others',
    { '/': { '/a.css': { crossorigin: true, Type: 'font' } } },
    '/~1/~1a.css/Type',
    /unknown field "Type".*did you mean "type"\?/,
  ],
  ['no type and an unrelated field', { '/': { '/a.css': { href: '/a.css' } } }, '/~1/~1a.css/type', /the entry has no "type"/],
  ['unknown type with a hint', { '/': { '/a.css': { type: 'styl' } } }, '/~1/~1a.css/type', /unknown type "styl".*did you mean "style"\?/],
  [
    'unknown type without a hint',
    { '/': { '/a.css': { type: 'stylesheet-ish' } } },
    '/~1/~1a.css/type',
    /unknown type "stylesheet-ish"\. Fix: type is a fetch destination/,
  ],
  ['type not a string', { '/': { '/a.css': { type: 3 } } }, '/~1/~1a.css/type', /unknown type 3/],
  ['unknown field with a hint', { '/': { '/a.css': { type: 'style', weigth: 1 } } }, '/~1/~1a.css/weigth', /unknown field "weigth".*did you mean "weight"\?/],
  ['method field (only GET is pushed)', { '/': { '/a.css': { type: 'style', method: 'POST' } } }, '/~1/~1a.css/method', /unknown field "method"/],
  ['bad crossorigin', { '/': { '/f.woff2': { type: 'font', crossorigin: 'yes' } } }, '/~1/~1f.woff2/crossorigin', /crossorigin "yes" is not allowed/],
  ['weight not a number', { '/': { '/a.css': { type: 'style', weight: 'high' } } }, '/~1/~1a.css/weight', /"high" is not a number/],
  ['nopush not a boolean', { '/': { '/a.css': { type: 'style', nopush: 'yes' } } }, '/~1/~1a.css/nopush', /"yes" is not true or false/],
  ['relative URL', { '/': { 'a.css': { type: 'style' } } }, '/~1/a.css', /"a.css" is not an absolute path.*"\/a.css"/],
  [
    'absolute URL to another origin',
    { '/': { 'https://cdn.example/a.css': { type: 'style' } } },
    '/~1/https:~1~1cdn.example~1a.css',
    /is an absolute URL.*"\/a.css"/,
  ],
  ['protocol-relative URL', { '/': { '//cdn.example/a.css': { type: 'style' } } }, '/~1/~1~1cdn.example~1a.css', /not an absolute path/],
  ['data: URL', { '/': { 'data:text/css,x': { type: 'style' } } }, '/~1/data:text~1css,x', /is an absolute URL/],
  ['.. traversal', { '/': { '/css/../../etc/passwd': { type: 'style' } } }, '/~1/~1css~1..~1..~1etc~1passwd', /has a "\.\." segment/],
  ['encoded .. traversal', { '/': { '/%2e%2e/secret': { type: 'fetch' } } }, '/~1/~1%2e%2e~1secret', /has a "\.\." segment/],
  ['URL with a space', { '/': { '/a b.css': { type: 'style' } } }, '/~1/~1a b.css', /space, backslash or control character/],
  ['URL with a backslash', { '/': { '/a\\b.css': { type: 'style' } } }, '/~1/~1a\\b.css', /space, backslash or control character/],
  [
    'more URLs than maxEntriesPerRoute',
    { '/': Object.fromEntries(['/1', '/2', '/3', '/4', '/5'].map((u) => [u, { type: 'fetch' }])) },
    '/~1',
    /lists 5 URLs, more than maxEntriesPerRoute \(4\)/,
  ],
  ['route pattern that does not compile', { '/users/:': { '/a.css': { type: 'style' } } }, '/~1users~1:', /does not compile.*Express 5 route syntax/],
  ['regular expression that does not compile', { '^/(unclosed': { '/a.css': { type: 'style' } } }, '/^~1(unclosed', /does not compile.*regular expression/],
  ['$schema not a string', { $schema: 1 }, '/$schema', /"\$schema" must be a string, got 1/],
  [
    'URL with a lone UTF-16 surrogate',
    { '/': { '/a\ud800.js': { type: 'script' } } },
    '/~1/~1a\ud800.js',
    /lone UTF-16 surrogate.*Fix: write the whole character/,
  ],
  [
    'the same URL twice, once percent-encoded',
    { '/': { '/café.css': { type: 'style' }, '/caf%C3%A9.css': { type: 'style' } } },
    '/~1/~1caf%C3%A9.css',
    /"\/caf%C3%A9.css" is the same URL as "\/café.css" once percent-encoded.*Fix: list it once/,
  ],
]

describe('bad manifests: code, pointer, message with the fix', () => {
  for (const [name, manifest, pointer, message] of BAD) {
    test(name, () => {
      assert.throws(
        () => compileManifest(manifest, 'push-manifest.json', LIMITS),
        (err: PushManifestError) => {
          assert.ok(err instanceof PushManifestError)
          assert.equal(err.code, 'ERR_PUSH_MANIFEST_INVALID')
          assert.equal(err.file, 'push-manifest.json')
          assert.equal(err.pointer, pointer)
          assert.match(err.message, message)
          assert.match(err.message, /^push manifest push-manifest\.json at .+?: .+\. Fix: .+/)
          return true
        },
      )
    })
  }
})

describe('syntax and read errors', () => {
  const SYNTAX: Array<[string, string, number, number]> = [
    ['trailing comma', '{\n  "/": {\n    "/a.css": { "type": "style" },\n  }\n}', 4, 3],
    ['comment', '{\n  // push\n  "/": {}\n}', 2, 3],
    ['unterminated', '{ "/": {', 1, 9],
  ]
  for (const [name, text, line, column] of SYNTAX) {
    test(`${name}: ERR_PUSH_MANIFEST_SYNTAX at line ${line}`, () => {
      assert.throws(
        () => parseManifestText(text, 'm.json'),
        (err: PushManifestError) => {
          assert.equal(err.code, 'ERR_PUSH_MANIFEST_SYNTAX')
          assert.equal(err.line, line)
          assert.ok(err.column !== undefined && Math.abs(err.column - column) <= 1, `column ${err.column}, expected about ${column}`)
          assert.match(err.message, new RegExp(`^push manifest m\\.json:${line}:\\d+: not valid JSON: .+\\. Fix: `))
          return true
        },
      )
    })
  }

  test('a missing file: ERR_PUSH_MANIFEST_READ naming the file', () => {
    assert.throws(() => readManifestFile('/nonexistent/push-manifest.json'), {
      code: 'ERR_PUSH_MANIFEST_READ',
      message: /\/nonexistent\/push-manifest\.json.*ENOENT.*check the `manifest` path/,
    })
  })
})

describe('good manifests', () => {
  test('the formats users already have: http2-push-manifest / Polymer / preact-cli / prpl-server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-manifest-'))
    const file = join(dir, 'push-manifest.json')
    await writeFile(
      file,
      '\ufeff' +
        JSON.stringify({
          $schema: './node_modules/express-h2-push/push-manifest.schema.json',
          'index.html': { '/css/app.css': { type: 'style', weight: 1 }, '/js/app.js': { type: 'script' } },
          '/users/:id': { '/js/user.js': { type: 'script', crossorigin: 'use-credentials' } },
          '/docs/*': { '/fonts/a.woff2': { type: 'font' } },
          '^/blog/[0-9]+$': { '/css/blog.css': { type: 'style', nopush: true } },
        }),
    )
    const compiled = loadManifestFile(file, { maxEntriesPerRoute: 64 })
    assert.deepEqual(
      compiled.routes.map((r) => r.key),
      ['index.html', '/users/:id', '/docs/*', '^/blog/[0-9]+$'],
    )
    assert.deepEqual(
      compiled.routes[0]!.entries.map((e) => e.link),
      ['</css/app.css>; rel=preload; as=style', '</js/app.js>; rel=preload; as=script'],
    )
    assert.equal(compiled.routes[1]!.entries[0]!.link, '</js/user.js>; rel=preload; as=script; crossorigin=use-credentials')
    assert.equal(compiled.routes[2]!.entries[0]!.link, '</fonts/a.woff2>; rel=preload; as=font; crossorigin')
    assert.equal(compiled.routes[3]!.entries[0]!.link, '</css/blog.css>; rel=preload; as=style; nopush')
    assert.equal(compiled.routes[3]!.entries[0]!.nopush, true)
  })

  test('URLs a URI cannot hold as written are percent-encoded (UTF-8) once, in the URL and its Link value', () => {
    const compiled = compileManifest(
      {
        '/': {
          '/café.css': { type: 'style' },
          '/☃.js': { type: 'script', nopush: true },
          '/a%20b/100%.json?q=é&x=<y>': { type: 'fetch' },
          '/😀.png': { type: 'image' },
          '/plain.css': { type: 'style' },
        },
      },
      '(object)',
      { maxEntriesPerRoute: 8 },
    )
    const entries = compiled.routes[0]!.entries
    // Stylesheets first, then scripts, then the rest (each in manifest order).
    assert.deepEqual(
      entries.map((e) => e.url),
      ['/caf%C3%A9.css', '/plain.css', '/%E2%98%83.js', '/a%20b/100%25.json?q=%C3%A9&x=%3Cy%3E', '/%F0%9F%98%80.png'],
    )
    assert.deepEqual(
      entries.map((e) => e.link),
      [
        '</caf%C3%A9.css>; rel=preload; as=style',
        '</plain.css>; rel=preload; as=style',
        '</%E2%98%83.js>; rel=preload; as=script; nopush',
        '</a%20b/100%25.json?q=%C3%A9&x=%3Cy%3E>; rel=preload; as=fetch',
        '</%F0%9F%98%80.png>; rel=preload; as=image',
      ],
    )
    // The pointers name the URLs as written.
    assert.deepEqual(
      entries.map((e) => e.pointer),
      ['/~1/~1café.css', '/~1/~1plain.css', '/~1/~1☃.js', '/~1/~1a%20b~1100%.json?q=é&x=<y>', '/~1/~1😀.png'],
    )
    // Every Link value is a valid header value: visible ASCII only.
    for (const entry of entries) assert.match(entry.link, /^[\x21-\x7e ]+$/)
  })

  test('the manifest object is not modified', () => {
    const manifest = Object.freeze({ '/': Object.freeze({ '/a.css': Object.freeze({ type: 'style' }) }) })
    const before = JSON.stringify(manifest)
    compileManifest(manifest, '(object)', LIMITS)
    assert.equal(JSON.stringify(manifest), before)
  })

  test("the demo's push-manifest.json is valid", () => {
    const compiled = loadManifestFile('push-manifest.json', LIMITS)
    assert.deepEqual(
      compiled.routes.map((r) => [r.key, r.entries.map((e) => e.url)]),
      [['/push', ['/crt']]],
    )
  })
})

describe('non-ASCII URLs over HTTP/2: the Link header, the push and the 103', () => {
  const MANIFEST: PushManifest = { '/page': { '/café.css': { type: 'style' }, '/☃.js': { type: 'script', nopush: true } } }

  for (const transport of TRANSPORTS) {
    describe(transport, () => {
      let running: Running
      before(async () => {
        const root = await mkdtemp(join(tmpdir(), 'h2push-utf8-'))
        await writeFile(join(root, 'café.css'), 'body { color: teal }')
        await writeFile(join(root, '☃.js'), 'snow()')
        const app = express()
        app.use(pushManifest({ manifest: MANIFEST, root, watch: false }))
        app.use(express.static(root))
        app.get('/page', (_req, res) => {
          res.type('html').send('<h1>page</h1>')
        })
        running = await startServer(app, { transport })
      })
      after(() => running.close())

      test('a client that takes pushes: /caf%C3%A9.css pushed with its file, the nopush /%E2%98%83.js in the Link header', async () => {
        const exchange = await h2get(running.url, '/page')
        assert.equal(exchange.status, 200)
        assert.equal(exchange.headers['link'], '</%E2%98%83.js>; rel=preload; as=script; nopush')
        assert.deepEqual(
          exchange.pushes.map((p) => [p.path, p.headers[':status'], p.body.toString(), p.ended]),
          [['/caf%C3%A9.css', 200, 'body { color: teal }', true]],
        )
        // What the browser then requests by that URL is that file.
        const direct = await h2get(running.url, '/%E2%98%83.js')
        assert.equal(direct.status, 200)
        assert.equal(direct.body.toString(), 'snow()')
      })

      test('a client that refuses push (a browser): both in a 103 and in the response Link header', async () => {
        const exchange = await h2get(running.url, '/page', { enablePush: false })
        const link = '</caf%C3%A9.css>; rel=preload; as=style, </%E2%98%83.js>; rel=preload; as=script; nopush'
        assert.equal(exchange.status, 200)
        assert.equal(exchange.pushes.length, 0)
        assert.deepEqual(
          exchange.informational.map((h) => [h[':status'], h['link']]),
          [[103, link]],
        )
        assert.equal(exchange.headers['link'], link)
      })
    })
  }
})

test('entries are ordered most critical first: critical, then stylesheets and fonts, scripts, the rest; heavier weight first within a class', () => {
  const { routes } = compileManifest(
    {
      '/': {
        '/hero.jpg': { type: 'image' },
        '/app.js': { type: 'script' },
        '/data.json': { type: 'fetch', critical: true },
        '/late.css': { type: 'style', weight: 1 },
        '/font.woff2': { type: 'font' },
        '/main.css': { type: 'style', weight: 256 },
        '/logo.svg': { type: 'image', weight: 32 },
      },
    },
    OBJECT_SOURCE,
    { maxEntriesPerRoute: 64 },
  )
  assert.deepEqual(
    routes[0]!.entries.map((e) => e.url),
    ['/data.json', '/main.css', '/font.woff2', '/late.css', '/app.js', '/logo.svg', '/hero.jpg'],
  )
  assert.throws(
    () => compileManifest({ '/': { '/a.css': { type: 'style', critical: 'yes' as unknown as boolean } } }, OBJECT_SOURCE, { maxEntriesPerRoute: 64 }),
    /"yes" is not true or false/,
  )
})

describe('entry types: the TypeScript type and the schema agree', () => {
  test("PushManifestEntry.type is the union of the schema's destinations; a misspelled one does not compile", () => {
    assert.deepEqual([...PUSH_DESTINATIONS], [...ENTRY_TYPES])
    assert.deepEqual(ENTRY_TYPES, pushManifestSchema.definitions.entry.properties.type.enum)
    const ok: PushManifestEntry = { type: 'style' }
    // @ts-expect-error: 'styl' is not a destination (npm run typecheck fails if this compiles)
    const typo: PushManifestEntry = { type: 'styl' }
    // @ts-expect-error: a manifest object with a misspelled type does not compile either
    const manifest: PushManifest = { '/': { '/a.css': { type: 'stylesheet' } } }
    assert.ok(ok && typo && manifest)
  })
})
