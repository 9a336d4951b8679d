/**
 * The `express-h2-push` command as users run it: `inspect` against the demo server,
 * its error lines, and `generate` on a fixture site.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import https from 'node:https'
import net from 'node:net'
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { AddressInfo } from 'node:net'
import { ROOT, startDemo, TRANSPORTS, type Running } from './helpers/server.js'
import { testCertificate } from './helpers/tls.js'
import { inspect, MAX_DURATION_MS, parseDuration } from '../src/cli/inspect.js'
import { parseSrcset, pickCandidate } from '../src/cli/srcset.js'
import { readViteManifest } from '../src/cli/vite.js'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'bin/express-h2-push.ts', ...args], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    })
  })
}

function eventLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith('['))
}

for (const transport of TRANSPORTS) {
  describe(`inspect (${transport})`, () => {
    let demo: Running
    before(async () => {
      demo = await startDemo({ autoPushIntervalMs: 200 }, { transport })
    })
    after(() => demo.close())

    test('/push: the PUSH_PROMISE for /crt comes before the response HEADERS; a summary ends it', async () => {
      const run = await cli('inspect', `${demo.url}/push`, '-k')
      assert.equal(run.code, 0, run.stderr)
      const lines = eventLines(run.stdout)
      assert.match(lines[0]!, /→ HEADERS stream 1 GET \/push$/)
      const promise = lines.findIndex((l) => /← PUSH_PROMISE promised stream 2 \/crt/.test(l))
      const headers = lines.findIndex((l) => /← HEADERS stream 1 200 /.test(l))
      assert.ok(promise > 0 && promise < headers, run.stdout)
      assert.ok(lines.some((l) => /← DATA stream 2 \(pushed\) 573 bytes/.test(l) || /← DATA stream 2 \(pushed\) \d+ bytes/.test(l)))
      assert.match(run.stdout, /^summary: status 200, time to first byte [\d.]+ ms, 0 early hints, 1 pushes promised, 1 completed, \d+ bytes pushed/m)
    })

    test('/autoPush with a 200 ms interval over 2 s: at least 3 promises, ids 2, 4, 6', async () => {
      const run = await cli('inspect', `${demo.url}/autoPush`, '-k', '--duration', '2s')
      assert.equal(run.code, 0, run.stderr)
      const ids = [...run.stdout.matchAll(/← PUSH_PROMISE promised stream (\d+) \/crt/g)].map((m) => Number(m[1]))
      assert.ok(ids.length >= 3, run.stdout)
      assert.deepEqual(ids.slice(0, 3), [2, 4, 6])
      assert.match(run.stdout, /→ RST_STREAM stream 1 CANCEL \(end of --duration\)/)
    })

    test('--no-push: a 103 and no promises', async () => {
      const run = await cli('inspect', `${demo.url}/push`, '-k', '--no-push')
      assert.equal(run.code, 0, run.stderr)
      assert.match(run.stdout, /← 103 stream 1 link: <\/crt>; rel=preload; as=fetch/)
      assert.doesNotMatch(run.stdout, /PUSH_PROMISE/)
      assert.match(run.stdout, /1 early hints, 0 pushes promised/)
    })

    test('--json: one JSON object per line, ending with the summary', async () => {
      const run = await cli('inspect', `${demo.url}/push`, '-k', '--json')
      const objects = run.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { event: string; t?: number })
      assert.deepEqual(objects.map((o) => o.event).slice(0, 2), ['request', 'push_promise'])
      assert.equal(objects.at(-1)!.event, 'summary')
      assert.ok(objects.slice(0, -1).every((o) => typeof o.t === 'number'))
    })
  })
}

describe('inspect: one clear line and a non-zero exit', () => {
  test('a certificate that is not trusted asks for --insecure', async () => {
    const demo = await startDemo()
    try {
      const run = await cli('inspect', `${demo.url}/crt`)
      assert.equal(run.code, 1)
      assert.match(
        run.stderr,
        /^express-h2-push: the certificate of 127\.0\.0\.1:\d+ is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\); for a development certificate add --insecure \(-k\)$/m,
      )
    } finally {
      await demo.close()
    }
  })

  test('an HTTP/1.1-only server', async () => {
    const tls = await testCertificate()
    const server = https.createServer(tls, (_req, res) => res.end('http/1.1')).listen(0, '127.0.0.1')
    await once(server, 'listening')
    try {
      const run = await cli('inspect', `https://127.0.0.1:${(server.address() as AddressInfo).port}/`, '-k')
      assert.equal(run.code, 1)
      assert.match(run.stderr, /^express-h2-push: .*does not speak HTTP\/2 .*HTTP\/1\.1 only/)
    } finally {
      server.close()
    }
  })

  test('a refused connection, a non-TLS URL, a bad URL, a bad --duration', async () => {
    const closed = https.createServer().listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const port = (closed.address() as AddressInfo).port
    closed.close()
    await once(closed, 'close')
    const refused = await cli('inspect', `https://127.0.0.1:${port}/`, '-k')
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /^express-h2-push: cannot connect to 127\.0\.0\.1:\d+: connection refused/)
    const plain = await cli('inspect', 'http://127.0.0.1:8080/')
    assert.equal(plain.code, 1)
    assert.match(plain.stderr, /is not TLS: inspect speaks HTTP\/2 over TLS only; use https:\/\//)
    const bad = await cli('inspect', 'not a url')
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /not a URL: "not a url"/)
    const duration = await cli('inspect', 'https://127.0.0.1/', '--duration', 'soon')
    assert.equal(duration.code, 2)
    assert.match(duration.stderr, /--duration "soon": use a number with ms, s or m/)
    const unknown = await cli('frobnicate')
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /^express-h2-push: unknown command "frobnicate"\n\(run `express-h2-push --help` for usage\)\n$/)
  })

  test('a host without a scheme gets a hint: did you mean https://...?', async () => {
    for (const target of ['localhost:8443', 'localhost:8443/push', '127.0.0.1:8443', '[::1]:8443']) {
      const run = await cli('inspect', target, '-k')
      assert.equal(run.code, 1, target)
      assert.equal(run.stdout, '')
      assert.equal(run.stderr, `express-h2-push: "${target}" has no scheme: did you mean https://${target}? (inspect speaks HTTP/2 over TLS)\n`)
    }
  })
})

describe('command-line conventions', () => {
  test('--version and -v print the package version, exit 0', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    for (const flag of ['--version', '-v']) {
      const run = await cli(flag)
      assert.deepEqual([run.code, run.stdout, run.stderr], [0, `${version}\n`, ''], flag)
    }
  })

  test('--help and -h: the commands on stdout, exit 0; no arguments: the same usage on stderr, exit 2', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const run = await cli(flag)
      assert.equal(run.code, 0, flag)
      assert.match(run.stdout, /^usage: express-h2-push <command> \[options\]\n\ncommands:\n {2}inspect <https-url> .*\n {2}generate <dir> /)
      assert.match(run.stdout, /exit codes: 0 done, 1 failed, 2 usage error/)
    }
    const none = await cli()
    assert.equal(none.code, 2)
    assert.equal(none.stdout, '')
    assert.equal(none.stderr, (await cli('--help')).stdout)
  })

  test("<command> --help (or -h, or help <command>) prints that command's usage and options, exit 0", async () => {
    const runs = await Promise.all([cli('inspect', '--help'), cli('inspect', '-h'), cli('help', 'inspect'), cli('inspect', 'https://x/', '-k', '--help')])
    for (const run of runs) {
      assert.deepEqual([run.code, run.stderr], [0, ''])
      assert.match(run.stdout, /^usage: express-h2-push inspect <https-url> /)
      assert.match(run.stdout, /--no-push .*\n.*--duration TIME/)
      assert.doesNotMatch(run.stdout, /generate <dir>|ERR_PARSE_ARGS|To specify a positional/)
    }
    const generate = await cli('generate', '-h')
    assert.equal(generate.code, 0)
    assert.match(generate.stdout, /^usage: express-h2-push generate <dir> .*\[--force\]/)
    assert.match(generate.stdout, /--force {10}replace an existing manifest/)
  })

  test("usage errors: one line with the prefix, a pointer to the command's --help, exit 2; a typo gets a hint", async () => {
    const rows: Array<[string[], RegExp]> = [
      [
        ['inspect', '--jsn', 'https://x/'],
        /^express-h2-push: inspect: unknown option --jsn \(did you mean --json\?\)\n\(run `express-h2-push inspect --help` for usage\)\n$/,
      ],
      [['inspect', '--bogus'], /^express-h2-push: inspect: unknown option --bogus\n\(run `express-h2-push inspect --help`/],
      [['inspect', '--duration'], /^express-h2-push: inspect: --duration needs a value\n/],
      [['inspect'], /^express-h2-push: inspect takes one URL, got 0\n\(run `express-h2-push inspect --help`/],
      [['generate'], /^express-h2-push: generate takes one folder \(the built site\), got 0\n\(run `express-h2-push generate --help`/],
      [['generate', 'dist', '--forse'], /^express-h2-push: generate: unknown option --forse \(did you mean --force\?\)/],
      [['generate', 'dist', '--base', 'app'], /^express-h2-push: generate: --base "app" must start with "\/"/],
      [['inspcet'], /^express-h2-push: unknown command "inspcet" \(did you mean inspect\?\)\n\(run `express-h2-push --help`/],
    ]
    for (const [args, message] of rows) {
      const run = await cli(...args)
      assert.equal(run.code, 2, args.join(' '))
      assert.equal(run.stdout, '', args.join(' '))
      assert.match(run.stderr, message, args.join(' '))
    }
  })

  test('in a clone, `npm run cli -- ...` runs the command from source (no build needed)', async () => {
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'cli', '--', 'generate', '--help'], { cwd: ROOT, timeout: 60_000 })
    assert.match(stdout, /^usage: express-h2-push generate <dir>/)
  })
})

describe('inspect --duration', () => {
  test('parses ms, s, m and plain seconds from 1ms to 2^31 - 1 ms; anything else is ERR_H2PUSH_INVALID_OPTION', () => {
    assert.equal(parseDuration('1ms'), 1)
    assert.equal(parseDuration('12s'), 12_000)
    assert.equal(parseDuration('2m'), 120_000)
    assert.equal(parseDuration('1.5'), 1500)
    assert.equal(parseDuration(`${MAX_DURATION_MS}ms`), 2 ** 31 - 1)
    const rows: Array<[string, RegExp]> = [
      ['soon', /^--duration "soon": use a number with ms, s or m/],
      ['0', /^--duration 0: must be at least 1ms .* from 1ms to 2147483647ms/],
      ['0ms', /^--duration 0ms: must be at least 1ms/],
      ['0.4ms', /^--duration 0\.4ms: must be at least 1ms/],
      ['2147483648ms', /^--duration 2147483648ms: 2147483648 ms is past the longest timer Node has; .*from 1ms to 2147483647ms \(about 24\.8 days\)/],
      ['3000000s', /^--duration 3000000s: 3000000000 ms is past the longest timer/],
      ['35792m', /^--duration 35792m: 2147520000 ms is past the longest timer/],
    ]
    for (const [text, message] of rows) {
      assert.throws(
        () => parseDuration(text),
        (err: Error & { code?: string }) => err.code === 'ERR_H2PUSH_INVALID_OPTION' && message.test(err.message),
        text,
      )
    }
    for (const durationMs of [0, -1, Number.NaN, MAX_DURATION_MS + 1]) {
      assert.throws(() => inspect(new URL('https://127.0.0.1:1/'), { noPush: false, durationMs, json: false, insecure: true }, () => {}), {
        code: 'ERR_H2PUSH_INVALID_OPTION',
      })
    }
  })

  test('0 and past 2^31 - 1 ms: one line naming the flag and the range, exit 2, nothing sent', async () => {
    for (const duration of ['0', '0ms', '2147483648ms', '3000000s']) {
      const run = await cli('inspect', 'https://127.0.0.1:1/', '-k', '--duration', duration)
      assert.equal(run.code, 2, `${duration}: ${run.stderr}`)
      assert.equal(run.stdout, '')
      assert.match(run.stderr, new RegExp(`^express-h2-push: --duration ${duration}: .*from 1ms to 2147483647ms \\(about 24\\.8 days\\)`))
      assert.doesNotMatch(run.stderr, /TimeoutOverflowWarning|TypeError|\n\s+at /)
    }
  })

  test('a deadline that passes while the TLS handshake is held up: one error line, exit 1, nothing sent after it', async () => {
    const demo = await startDemo()
    // A TCP relay that starts relaying only after the inspection's deadline (timers of one process fire in order).
    const relay = net.createServer((client) => {
      client.pause()
      setTimeout(() => {
        const upstream = net.connect(demo.port, '127.0.0.1')
        upstream.on('error', () => client.destroy())
        client.on('error', () => upstream.destroy())
        client.pipe(upstream).pipe(client)
        client.resume()
      }, 200)
    })
    relay.listen(0, '127.0.0.1')
    await once(relay, 'listening')
    try {
      const lines: string[] = []
      const { code } = await inspect(
        new URL(`https://127.0.0.1:${(relay.address() as AddressInfo).port}/push`),
        { noPush: false, durationMs: 20, json: false, insecure: true },
        (line) => lines.push(line),
      )
      assert.equal(code, 1)
      assert.deepEqual(lines, ['error: no response within --duration (20 ms)'])
    } finally {
      relay.close()
      await demo.close()
    }
  })
})

describe('generate', () => {
  const SITE = join(ROOT, 'test/fixtures/generate')
  const EXPECTED = {
    '/': {
      '/css/main.css': { type: 'style' },
      '/js/vendor.mjs': { type: 'script' },
      '/fonts/inter.woff2': { type: 'font', crossorigin: true },
      '/img/hero.webp': { type: 'image' },
      '/js/app.mjs': { type: 'script' },
    },
    '/about': { '/css/main.css': { type: 'style' }, '/about/about.css?v=2': { type: 'style' } },
    '/blog/post.html': { '/js/app.mjs': { type: 'script' }, '/data/post.json': { type: 'fetch', crossorigin: 'use-credentials' } },
  }

  test('writes the manifest of a built site, with notes for what it skips', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'h2push-gen-')), 'push-manifest.json')
    const run = await cli('generate', SITE, '--out', out)
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /wrote .*push-manifest\.json: 3 routes, 9 URLs/)
    const text = await readFile(out, 'utf8')
    assert.ok(text.endsWith('}\n') && !text.endsWith('\n\n'), 'one trailing newline')
    const written = JSON.parse(text) as Record<string, unknown>
    // No project around the temporary folder: the schema this package ships, relative to the manifest.
    assert.equal(resolve(dirname(out), written['$schema'] as string), join(ROOT, 'push-manifest.schema.json'))
    delete written['$schema']
    assert.deepEqual(written, EXPECTED)
    assert.match(run.stderr, /note: index\.html: skipped https:\/\/cdn\.example\.com\/lib\.js: cross-origin/)
    assert.match(run.stderr, /note: about\/index\.html: skipped \/\/cdn\.example\.com\/x\.js: cross-origin/)
    assert.match(run.stderr, /note: index\.html: skipped a data: URL/)
  })

  test('--check: 0 when up to date, 1 with the drift listed', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'h2push-gen-')), 'push-manifest.json')
    await cli('generate', SITE, '--out', out)
    const fresh = await cli('generate', SITE, '--out', out, '--check')
    assert.equal(fresh.code, 0, fresh.stderr)
    assert.match(fresh.stdout, /is up to date \(3 routes\)/)
    const manifest = JSON.parse(await readFile(out, 'utf8')) as Record<string, Record<string, unknown>>
    delete manifest['/about']!['/about/about.css?v=2']
    manifest['/']!['/old.js'] = { type: 'script' }
    await writeFile(out, JSON.stringify(manifest))
    const drift = await cli('generate', SITE, '--out', out, '--check')
    assert.equal(drift.code, 1)
    assert.match(drift.stderr, /route \/about: \/about\/about\.css\?v=2 missing/)
    assert.match(drift.stderr, /route \/: \/old\.js not referenced by the page any more/)
  })

  test('--base prefixes the routes', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'h2push-gen-')), 'm.json')
    const run = await cli('generate', SITE, '--out', out, '--base', '/app')
    assert.equal(run.code, 0, run.stderr)
    const written = JSON.parse(await readFile(out, 'utf8')) as Record<string, Record<string, unknown>>
    assert.deepEqual(
      Object.keys(written)
        .filter((k) => k !== '$schema')
        .sort(),
      ['/app/', '/app/about', '/app/blog/post.html'],
    )
    assert.ok(written['/app/']!['/app/css/main.css'] === undefined && written['/app/']!['/css/main.css'], 'absolute URLs stay as written')
  })
})

describe('generate never loses a manifest', () => {
  const SITE = join(ROOT, 'test/fixtures/generate')
  const HAND_WRITTEN = {
    '/': { '/css/main.css': { type: 'style' }, '/js/app.mjs': { type: 'script' } },
    '/about': { '/css/main.css': { type: 'style' } },
    '/shop': { '/css/shop.css': { type: 'style' } },
    '/blog/post.html': { '/js/app.mjs': { type: 'script' } },
  }

  test('a folder with no HTML does not replace a hand-written manifest: ERR_H2PUSH_MANIFEST_SHRINK, exit 1, the file untouched; --force replaces it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-gen-'))
    const empty = join(dir, 'dist')
    await mkdir(empty)
    const out = join(dir, 'push-manifest.json')
    const before = `${JSON.stringify(HAND_WRITTEN, null, 2)}\n`
    await writeFile(out, before)
    const run = await cli('generate', empty, '--out', out)
    assert.equal(run.code, 1)
    assert.equal(run.stdout, '')
    assert.match(
      run.stderr,
      /^express-h2-push: ERR_H2PUSH_MANIFEST_SHRINK: .*push-manifest\.json has 4 routes, 5 URLs; the manifest generated from .*dist has 0 routes, 0 URLs \(it would lose \/, \/about, \/shop, \/blog\/post\.html\), so push-manifest\.json is left as it is\. Fix: check that .*dist is the built site .*, or pass --force to replace it\n$/,
    )
    assert.equal(await readFile(out, 'utf8'), before)
    const forced = await cli('generate', empty, '--out', out, '--force')
    assert.equal(forced.code, 0, forced.stderr)
    assert.match(forced.stdout, /wrote .*: 0 routes, 0 URLs\n$/)
  })

  test('fewer routes or fewer URLs than the file holds is refused; as many or more replaces it, saying what it replaced', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-gen-'))
    const out = join(dir, 'push-manifest.json')
    // The site makes 3 routes and 9 URLs.
    const rows: Array<[Record<string, Record<string, unknown>>, boolean]> = [
      [HAND_WRITTEN, false], // 4 routes
      [{ '/': Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`/${i}.css`, { type: 'style' }])) }, false], // 1 route, 10 URLs
      [{ '/': { '/a.css': { type: 'style' } } }, true],
      [{ '/': { '/a.css': { type: 'style' } }, '/x': {}, '/y': {} }, true],
    ]
    for (const [manifest, replaced] of rows) {
      const before = JSON.stringify(manifest)
      await writeFile(out, before)
      const run = await cli('generate', SITE, '--out', out)
      assert.equal(run.code, replaced ? 0 : 1, `${JSON.stringify(manifest)}: ${run.stderr}`)
      if (replaced) assert.match(run.stdout, /: 3 routes, 9 URLs, replacing \d+ routes?, \d+ URLs?\n$/)
      else assert.match(run.stderr, /ERR_H2PUSH_MANIFEST_SHRINK: .* has \d+ routes?, \d+ URLs?; the manifest generated from .* has 3 routes, 9 URLs/)
      assert.equal((await readFile(out, 'utf8')) === before, !replaced)
    }
  })

  test('an existing file that is not a JSON object is not replaced without --force', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-gen-'))
    const out = join(dir, 'push-manifest.json')
    await writeFile(out, '{ "/": { "/a.css": { "type": "style" } }, ')
    const run = await cli('generate', SITE, '--out', out)
    assert.equal(run.code, 1)
    assert.match(run.stderr, /ERR_H2PUSH_MANIFEST_SHRINK: .*push-manifest\.json exists and is not a JSON object .*pass --force to replace it/)
    assert.equal(await readFile(out, 'utf8'), '{ "/": { "/a.css": { "type": "style" } }, ')
    assert.equal((await cli('generate', SITE, '--out', out, '--force')).code, 0)
  })

  test('written atomically: a new file renamed over the old one, no temporary file left; a folder that is not there: ERR_H2PUSH_MANIFEST_WRITE, exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-gen-'))
    const out = join(dir, 'push-manifest.json')
    await writeFile(out, '{}')
    const inode = (await stat(out)).ino
    const run = await cli('generate', SITE, '--out', out)
    assert.equal(run.code, 0, run.stderr)
    assert.notEqual((await stat(out)).ino, inode, 'replaced by a rename, not rewritten in place')
    assert.deepEqual(await readdir(dir), ['push-manifest.json'])
    const nowhere = await cli('generate', SITE, '--out', join(dir, 'no/such/folder/m.json'))
    assert.equal(nowhere.code, 1)
    assert.match(
      nowhere.stderr,
      /\nexpress-h2-push: ERR_H2PUSH_MANIFEST_WRITE: cannot write .*m\.json \(ENOENT\)\. Fix: check that its folder exists and is writable\n$/,
    )
    assert.deepEqual(await readdir(dir), ['push-manifest.json'])
  })

  test('$schema is relative to where the manifest is written: ./node_modules/... beside it, ../node_modules/... from public/', async () => {
    const project = await mkdtemp(join(tmpdir(), 'h2push-project-'))
    // The package as npm installs it: a folder under node_modules with its package.json and schema.
    const installed = join(project, 'node_modules/express-h2-push')
    await mkdir(installed, { recursive: true })
    const { name, exports } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>
    await writeFile(join(installed, 'package.json'), JSON.stringify({ name, exports }))
    await writeFile(join(installed, 'push-manifest.schema.json'), await readFile(join(ROOT, 'push-manifest.schema.json')))
    await mkdir(join(project, 'public/static'), { recursive: true })
    const rows: Array<[string, string]> = [
      ['push-manifest.json', './node_modules/express-h2-push/push-manifest.schema.json'],
      ['public/push-manifest.json', '../node_modules/express-h2-push/push-manifest.schema.json'],
      ['public/static/m.json', '../../node_modules/express-h2-push/push-manifest.schema.json'],
    ]
    for (const [out, expected] of rows) {
      const run = await cli('generate', SITE, '--out', join(project, out))
      assert.equal(run.code, 0, run.stderr)
      const schema = (JSON.parse(await readFile(join(project, out), 'utf8')) as { $schema: string }).$schema
      assert.equal(schema, expected, out)
      assert.equal(resolve(dirname(join(project, out)), schema), join(installed, 'push-manifest.schema.json'))
    }
  })

  test('a preload with an `as` no manifest entry may have is noted and left out, not a failed run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-gen-'))
    await writeFile(join(dir, 'index.html'), '<link rel="preload" href="/a.bin" as="blob"><link rel="stylesheet" href="/a.css">')
    const run = await cli('generate', dir, '--out', join(dir, 'm.json'))
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stderr, /^note: index\.html: skipped \/a\.bin: as="blob" is not a fetch destination a preload takes$/m)
    assert.match(run.stdout, /: 1 route, 1 URL\n$/)
  })

  test('"1 route", "1 URL"; "2 routes"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-gen-'))
    await writeFile(join(dir, 'index.html'), '<link rel="stylesheet" href="/a.css">')
    const one = await cli('generate', dir, '--out', join(dir, 'm.json'))
    assert.match(one.stdout, /: 1 route, 1 URL\n$/)
    assert.match((await cli('generate', dir, '--out', join(dir, 'm.json'), '--check')).stdout, /is up to date \(1 route\)\n$/)
    await mkdir(join(dir, 'b'))
    await writeFile(join(dir, 'b/index.html'), '<script src="/b.js"></script><link rel="stylesheet" href="/a.css">')
    assert.match((await cli('generate', dir, '--out', join(dir, 'm.json'))).stdout, /: 2 routes, 3 URLs, replacing 1 route, 1 URL\n$/)
  })
})

async function generated(...args: string[]): Promise<{ run: Run; manifest: Record<string, Record<string, unknown>> }> {
  const out = join(await mkdtemp(join(tmpdir(), 'h2push-gen-')), 'push-manifest.json')
  const run = await cli('generate', ...args, '--out', out)
  assert.equal(run.code, 0, run.stderr)
  const manifest = JSON.parse(await readFile(out, 'utf8')) as Record<string, Record<string, unknown>>
  delete manifest['$schema']
  return { run, manifest }
}

describe('generate: a Vite build', () => {
  const BUILD = join(ROOT, 'test/fixtures/vite')
  const MODULE = { type: 'script', crossorigin: true }
  const CSS = { type: 'style', crossorigin: true }

  test('.vite/manifest.json is read: each HTML entry gets its chunk, its CSS and its static imports with theirs, transitively; nothing dynamic', async () => {
    const { run, manifest } = await generated(BUILD, '--base', '/app/')
    assert.match(run.stdout, /wrote .*: 2 routes, 9 URLs \(with the Vite manifest .*test\/fixtures\/vite\/\.vite\/manifest\.json\)/)
    assert.deepEqual(manifest, {
      '/app/about': {
        '/app/assets/about-C4Jc7rWx.js': MODULE,
        '/app/assets/shared-ChJ_j-JJ.css': CSS,
        '/app/assets/shared-B7PI925R.js': MODULE,
        '/app/assets/vendor-Dq1v3u9K.js': MODULE,
      },
      '/app/': {
        '/app/assets/index-BRBmoGS9.js': MODULE,
        '/app/assets/shared-ChJ_j-JJ.css': CSS,
        '/app/assets/index-5UjPuW-k.css': CSS,
        '/app/assets/shared-B7PI925R.js': MODULE,
        '/app/assets/vendor-Dq1v3u9K.js': MODULE,
      },
    })
    assert.doesNotMatch(JSON.stringify(manifest), /lazy|logo|admin/)
    assert.match(run.stderr, /note: vite: entry src\/admin\.ts is not an HTML page, so no route is known for it/)
  })

  test('--vite FILE: the manifest alone gives the routes (server-rendered HTML), in chunk order', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'h2push-vite-'))
    const { run, manifest } = await generated(empty, '--vite', join(BUILD, '.vite/manifest.json'), '--base', '/app/')
    assert.match(run.stdout, /2 routes, 9 URLs/)
    assert.deepEqual(Object.entries(manifest['/app/']!), [
      ['/app/assets/index-BRBmoGS9.js', MODULE],
      ['/app/assets/index-5UjPuW-k.css', CSS],
      ['/app/assets/shared-B7PI925R.js', MODULE],
      ['/app/assets/shared-ChJ_j-JJ.css', CSS],
      ['/app/assets/vendor-Dq1v3u9K.js', MODULE],
    ])
    assert.match(
      run.stderr,
      /note: \/app\/assets\/index-5UjPuW-k\.css: not found as assets\/index-5UjPuW-k\.css, so what it loads \(fonts, images\) is not read/,
    )
  })

  test('a real Vite 8 build (test/fixtures/vite-8: project/ built by vite 8.4.0 into build/): the same, and the fonts and images its CSS loads', async () => {
    const { run, manifest } = await generated(join(ROOT, 'test/fixtures/vite-8/build'), '--base', '/app/')
    assert.equal(run.stderr, '')
    const shared = {
      '/app/assets/shared-DsV0IqNY.js': MODULE,
      '/app/assets/shared-71xznQcW.css': CSS,
      '/app/assets/inter-Dy0wwTPx.woff2': { type: 'font', crossorigin: true },
      '/app/assets/bg-DbhTxNuG.png': { type: 'image' },
    }
    assert.deepEqual(manifest, {
      '/app/about': { '/app/assets/about-Dzt9Mz79.js': MODULE, ...shared },
      '/app/': { '/app/assets/main-CvtxWsj5.js': MODULE, ...shared, '/app/assets/main-DqQksVyv.css': CSS },
    })
    assert.doesNotMatch(JSON.stringify(manifest), /lazy/)
  })

  test('a Vite manifest that cannot be used: ERR_H2PUSH_VITE_MANIFEST saying what and where; the command exits 1 with one line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-vite-'))
    const rows: Array<[string, RegExp]> = [
      ['{"index.html": ', /: not JSON \(/],
      ['[]', /: not an object of chunks by source path\. Fix: point --vite at the \.vite\/manifest\.json/],
      ['{"index.html": "assets/index.js"}', /: chunk "index\.html" is "assets\/index\.js", not an object/],
      ['{"index.html": {"isEntry": true}}', /: chunk "index\.html" has no "file"/],
      ['{"index.html": {"file": "a.js", "css": "a.css"}}', /: chunk "index\.html": "css" is "a\.css", not a list of strings/],
      ['{"index.html": {"file": "a.js", "imports": [1]}}', /: chunk "index\.html": "imports" is \[1\], not a list of strings/],
    ]
    for (const [i, [text, message]] of rows.entries()) {
      const file = join(dir, `m${i}.json`)
      await writeFile(file, text)
      await assert.rejects(
        readViteManifest(file),
        (err: Error & { code?: string }) =>
          err.code === 'ERR_H2PUSH_VITE_MANIFEST' && message.test(err.message) && err.message.startsWith(`Vite manifest ${file}: `),
        text,
      )
    }
    const missing = await cli('generate', dir, '--vite', join(dir, 'nope.json'), '--out', join(dir, 'out.json'))
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^express-h2-push: .*: Vite manifest .*nope\.json: cannot be read \(ENOENT\)\. Fix: /)
    assert.equal(missing.stderr.trim().split('\n').length, 1)
    await mkdir(join(dir, '.vite'))
    await writeFile(join(dir, '.vite/manifest.json'), '[]')
    const found = await cli('generate', dir, '--out', join(dir, 'out.json'))
    assert.equal(found.code, 1)
    assert.match(found.stderr, /\.vite\/manifest\.json: not an object of chunks/)
  })
})

describe('generate: what stylesheets load, <base href>, srcset', () => {
  const SITE = join(ROOT, 'test/fixtures/generate-refs')

  test('CSS @import, the first @font-face source and url() images; URLs against <base href>; the 1x candidate of imagesrcset and srcset', async () => {
    const { run, manifest } = await generated(SITE)
    assert.deepEqual(manifest, {
      '/': {
        '/css/site.css': { type: 'style' },
        '/css/theme.css': { type: 'style' },
        '/img/title.svg?v=3': { type: 'image' },
        '/fonts/inter.woff2': { type: 'font', crossorigin: true },
        '/img/bg.webp': { type: 'image' },
        '/img/hero-800.jpg': { type: 'image' },
        '/img/logo.png': { type: 'image' },
      },
      '/blog/post.html': {
        '/static/v2/post.css': { type: 'style' },
        '/static/v2/paper.png': { type: 'image' },
        '/static/v2/app.js': { type: 'script' },
      },
    })
    const notes = run.stderr
    assert.match(notes, /note: \/css\/site\.css: skipped \.\.\/fonts\/inter\.woff: a fallback format of an @font-face/)
    assert.match(notes, /note: \/css\/site\.css: skipped a data: URL/)
    assert.match(notes, /note: \/css\/site\.css: skipped https:\/\/cdn\.example\.com\/ad\.png: cross-origin/)
    assert.match(
      notes,
      /note: index\.html: skipped \/img\/hero-1600\.jpg 2x of imagesrcset: another density \(the 1x candidate \/img\/hero-800\.jpg is pushed\)/,
    )
    assert.match(
      notes,
      /note: index\.html: skipped imagesrcset "\/img\/banner-480\.webp 480w, \/img\/banner-960\.webp 960w": width descriptors: the browser picks by viewport width/,
    )
    assert.match(notes, /note: index\.html: skipped \/img\/logo@2x\.png 2x of srcset/)
    assert.match(notes, /note: cdn\.html: skipped app\.js \(https:\/\/cdn\.example\.com\/site\/app\.js\): cross-origin/)
    assert.match(notes, /note: cdn\.html: skipped \/local\.js \(https:\/\/cdn\.example\.com\/local\.js\): cross-origin/)
    assert.doesNotMatch(JSON.stringify(manifest), /#blur|commented-out|banner|1600|@2x/)
  })

  test('--base: stylesheets are read from the folder under the prefix; one outside it is noted, not read', async () => {
    const { run, manifest } = await generated(SITE, '--base', '/app')
    assert.deepEqual(manifest['/app/']!['/css/site.css'], { type: 'style' })
    assert.equal(manifest['/app/']!['/fonts/inter.woff2'], undefined)
    assert.match(run.stderr, /note: \/css\/site\.css: not under --base \/app\/, so what it loads \(fonts, images\) is not read/)
    const moved = await mkdtemp(join(tmpdir(), 'h2push-refs-'))
    await mkdir(join(moved, 'css'))
    await writeFile(join(moved, 'index.html'), '<link rel="stylesheet" href="css/site.css">')
    await writeFile(join(moved, 'css/site.css'), '@font-face { font-family: A; src: url(../fonts/a.woff2) }')
    const under = await generated(moved, '--base', '/app')
    assert.deepEqual(under.manifest, { '/app/': { '/app/css/site.css': { type: 'style' }, '/app/fonts/a.woff2': { type: 'font', crossorigin: true } } })
  })

  test('srcset: candidates as the HTML standard parses them; the candidate a 1x display takes', () => {
    assert.deepEqual(parseSrcset(' a.png, b.png 2x ,  c(1).png 1.5x, d.png 640w, bad.png 2q, e.png'), [
      { url: 'a.png' },
      { url: 'b.png', density: 2 },
      { url: 'c(1).png', density: 1.5 },
      { url: 'd.png', width: 640 },
      { url: 'e.png' },
    ])
    assert.deepEqual(parseSrcset('x.png 1x 2x, y.png 0w, z.png,'), [{ url: 'z.png' }])
    assert.deepEqual(parseSrcset('a.png,b.png 2x'), [{ url: 'a.png,b.png', density: 2 }], 'a comma inside a URL is part of it')
    const rows: Array<[string, string | undefined, string | RegExp]> = [
      ['a.png 1x, b.png 2x', undefined, 'a.png'],
      ['b.png 2x, a.png', undefined, 'a.png'],
      ['b.png 2x', 'fallback.png', 'fallback.png'],
      ['b.png 2x, c.png 3x', undefined, 'b.png'],
      ['s.png 0.5x, t.png 0.75x', undefined, 't.png'],
      ['a.png 480w, b.png 960w', 'a.png', /width descriptors/],
      ['', undefined, /no valid candidate/],
    ]
    for (const [srcset, fallback, want] of rows) {
      const picked = pickCandidate(srcset, fallback)
      if (typeof want === 'string') assert.equal('url' in picked && picked.url, want, srcset)
      else assert.ok('reason' in picked && want.test(picked.reason), srcset)
    }
  })
})
