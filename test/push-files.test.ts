/**
 * Files pushed from `root`, on both transports: what goes out is what is on disk (length,
 * ETag and body from one open file, even when the file changes within `fileRecheck`; a
 * file truncated while it is pushed resets the push), and `root` is read by express.static's
 * rules (dotfiles, encoded paths).
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, mkdir, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import express from 'express'
import etag from 'etag'
import { pushManifest, type PushEvent, type PushManifest, type PushManifestOptions } from '../index.js'
import { fileUnderRoot } from '../src/push/sources.js'
import { H2Client, type PushRecord } from './helpers/h2.js'
import { RawH2Client, frames, FRAME, SETTING } from './helpers/raw-h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { settles } from './helpers/faults.js'

const BIG = 200 * 1024
const HUGE = 1_000_000

const MANIFEST: PushManifest = {
  '/big': { '/big.bin': { type: 'fetch' } },
  '/huge': { '/huge.bin': { type: 'fetch' } },
  '/dot': {
    '/app.css': { type: 'style' },
    '/.env': { type: 'fetch' },
    '/css%2f..%2f.env': { type: 'fetch' },
    '/.git/config': { type: 'fetch' },
  },
}

async function makeRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'h2push-files-'))
  await mkdir(join(dir, 'public', 'css'), { recursive: true })
  await mkdir(join(dir, 'public', '.git'))
  await writeFile(join(dir, 'public', 'app.css'), 'body{}')
  await writeFile(join(dir, 'public', 'css', 'app.css'), 'p{}')
  await writeFile(join(dir, 'public', '.env'), 'SECRET=1')
  await writeFile(join(dir, 'public', '.git', 'config'), '[core]')
  await writeFile(join(dir, 'public', 'big.bin'), Buffer.alloc(BIG, 'a'))
  await writeFile(join(dir, 'public', 'huge.bin'), Buffer.alloc(HUGE, 'h'))
  await writeFile(join(dir, 'push-manifest.json'), JSON.stringify(MANIFEST))
  return dir
}

function app(dir: string, options: Partial<PushManifestOptions> = {}) {
  const events: PushEvent[] = []
  const app = express()
  const middleware = pushManifest({
    manifest: join(dir, 'push-manifest.json'),
    root: join(dir, 'public'),
    watch: false,
    cacheDigest: false,
    fileRecheck: 60_000,
    onEvent: (e) => events.push(e),
    ...options,
  })
  app.use(middleware)
  app.use(express.static(join(dir, 'public')))
  for (const path of ['/big', '/huge', '/dot']) app.get(path, (_req, res) => void res.type('html').send(path))
  return { app, events, middleware }
}

/** A push's headers and body agree: complete, its content-length and ETag are those of the body it carried. */
function assertSelfConsistent(push: PushRecord | undefined, versions: ReadonlyArray<{ body: Buffer; etag: string }>, what: string): void {
  assert.ok(push, `${what}: pushed`)
  assert.ok(push.ended, `${what}: the push ended with END_STREAM (rstCode ${push.rstCode}, ${push.body.length} bytes)`)
  assert.equal(Number(push.headers['content-length']), push.body.length, `${what}: content-length is the body's length`)
  const version = versions.find((v) => v.body.equals(push.body))
  assert.ok(version, `${what}: the body is one whole version of the file, not a mix`)
  assert.equal(push.headers['etag'], version.etag, `${what}: the ETag is that version's`)
}

async function pushOf(url: string, path: string, pushed: string): Promise<PushRecord | undefined> {
  const client = new H2Client(url)
  try {
    // A connection window the file fits in: what passes the client's window would wait for its WINDOW_UPDATEs.
    await once(client.session, 'connect')
    client.session.setLocalWindowSize(8 * 1024 * 1024)
    const r = await client.request(path)
    assert.equal(r.status, 200)
    return r.pushes.find((p) => p.path === pushed)
  } finally {
    await client.close()
  }
}

async function version(file: string): Promise<{ body: Buffer; etag: string }> {
  return { body: readFileSync(file), etag: etag(await stat(file), { weak: true }) }
}

for (const transport of TRANSPORTS)
  describe(`files pushed from root on ${transport}`, () => {
    let dir: string
    let running: Running
    let events: PushEvent[]
    const warnings: string[] = []
    const warn = console.warn

    before(async () => {
      dir = await makeRoot()
      console.warn = (...args: unknown[]) => void warnings.push(args.join(' '))
      try {
        const made = app(dir)
        events = made.events
        running = await startServer(made.app, { transport })
      } finally {
        console.warn = warn
      }
    })
    after(async () => {
      await running.close()
      await rm(dir, { recursive: true, force: true })
    })

    test('a 200 KB file rewritten (shorter, then longer) within fileRecheck: each push has the length, ETag and body of one version', async () => {
      const file = join(dir, 'public', 'big.bin')
      const first = await version(file)
      assertSelfConsistent(await pushOf(running.url, '/big', '/big.bin'), [first], 'first push')

      await writeFile(file, Buffer.alloc(BIG - 50_000, 'b')) // in place: same inode, new length
      const shorter = await version(file)
      assertSelfConsistent(await pushOf(running.url, '/big', '/big.bin'), [first, shorter], 'after a shorter rewrite')

      await writeFile(file, Buffer.alloc(BIG + 90_000, 'c'))
      const longer = await version(file)
      assertSelfConsistent(await pushOf(running.url, '/big', '/big.bin'), [first, shorter, longer], 'after a longer rewrite')
    })

    test('a file truncated while it is pushed: the push is reset, never ended short of its content-length', async () => {
      const file = join(dir, 'public', 'huge.bin')
      await writeFile(file, Buffer.alloc(HUGE, 'h'))
      const client = await RawH2Client.connect(running.port, { settings: { [SETTING.ENABLE_PUSH]: 1, [SETTING.INITIAL_WINDOW_SIZE]: 1024 } })
      try {
        // A large connection window (the push fits the byte budget), a small stream window (the push stalls after 1 KB).
        client.write(frames.windowUpdate(0, 8 * 1024 * 1024), frames.request(1, '/huge'))
        await client.until((f) => f.some((x) => x.type === FRAME.DATA && x.streamId === 2), 5000, 'the push to start')
        await truncate(file, 400 * 1024)
        client.write(frames.windowUpdate(2, 8 * 1024 * 1024))
        await client.until(() => client.finished(2), 5000, 'the push to finish')
        const data = client.on(2).filter((f) => f.type === FRAME.DATA)
        const bytes = data.reduce((n, f) => n + f.payload.length, 0)
        assert.ok(!data.some((f) => f.endStream), `the push ended with END_STREAM after ${bytes} of ${HUGE} bytes`)
        assert.ok(
          client.on(2).some((f) => f.type === FRAME.RST_STREAM),
          'the server reset the push',
        )
        assert.ok(bytes < HUGE)
      } finally {
        await client.close()
      }
      await settles(() => events.some((e) => e.type === 'cancelled' && e.url === '/huge.bin'), 'the push reported as cancelled')
    })

    test('dotfiles (also behind %2f..%2f) are not pushed from root; a skipped event and one warning name them', async () => {
      const client = new H2Client(running.url)
      try {
        const r = await client.request('/dot')
        assert.deepEqual(
          r.pushes.map((p) => p.path),
          ['/app.css'],
        )
        assert.equal(r.pushes[0]!.body.toString(), 'body{}')
        assert.ok(!String(r.headers['link'] ?? '').includes('.env'), 'no preload Link for a dotfile either')
      } finally {
        await client.close()
      }
      const skipped = events.filter((e) => e.type === 'skipped' && e.reason === 'dotfile').map((e) => (e as { url: string }).url)
      assert.deepEqual(skipped.sort(), ['/.env', '/.git/config', '/css%2f..%2f.env'])
      const manifest = join(dir, 'push-manifest.json')
      assert.equal(warnings.length, 3, warnings.join('\n'))
      for (const [url, pointer] of [
        ['/.env', '/~1dot/~1.env'],
        ['/css%2f..%2f.env', '/~1dot/~1css%2f..%2f.env'],
        ['/.git/config', '/~1dot/~1.git~1config'],
      ] as const) {
        const line = warnings.find((w) => w.includes(JSON.stringify(url)))
        assert.ok(line, `a warning names ${url}: ${warnings.join('\n')}`)
        assert.ok(line.includes(`${manifest} at ${pointer}`), line)
        assert.match(line, /dotfiles/)
      }
    })
  })

describe('dotfiles option', () => {
  let dir: string
  before(async () => {
    dir = await makeRoot()
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test('"allow" pushes dotfiles from root, without a warning; "deny" is like "ignore"', async () => {
    const warnings: string[] = []
    const warn = console.warn
    console.warn = (...args: unknown[]) => void warnings.push(args.join(' '))
    let allowed, denied
    try {
      allowed = app(dir, { dotfiles: 'allow' })
      assert.deepEqual(warnings, [])
      denied = app(dir, { dotfiles: 'deny' })
      assert.equal(warnings.length, 3)
    } finally {
      console.warn = warn
    }
    for (const [made, expected] of [
      [allowed, ['/.env', '/.git/config', '/app.css', '/css%2f..%2f.env']],
      [denied, ['/app.css']],
    ] as const) {
      const running = await startServer(made.app, { transport: 'http2' })
      const client = new H2Client(running.url)
      try {
        const r = await client.request('/dot')
        assert.deepEqual(r.pushes.map((p) => p.path).sort(), expected)
        if (expected.length > 1) assert.equal(r.pushes.find((p) => p.path === '/.env')!.body.toString(), 'SECRET=1')
      } finally {
        await client.close()
        await running.close()
      }
    }
  })

  test('a warning is printed once per entry, not again on reload', () => {
    const warnings: string[] = []
    const warn = console.warn
    console.warn = (...args: unknown[]) => void warnings.push(args.join(' '))
    try {
      const { middleware } = app(dir)
      middleware.reload()
      middleware.reload()
    } finally {
      console.warn = warn
    }
    assert.equal(warnings.length, 3, warnings.join('\n'))
  })

  test('an unknown value is refused at construction', () => {
    assert.throws(() => app(dir, { dotfiles: 'hide' as 'ignore' }), { code: 'ERR_H2PUSH_INVALID_OPTION', message: /dotfiles.*"allow", "deny", "ignore"/ })
  })
})

describe('fileUnderRoot names only what express.static serves', () => {
  let dir: string
  let root: string
  const servers: http.Server[] = []
  const ports: Record<string, number> = {}

  before(async () => {
    dir = await makeRoot()
    root = join(dir, 'public')
    await writeFile(join(root, 'a\\b'), 'backslash')
    await writeFile(join(root, '..\\up'), 'dot-dot-backslash')
    for (const dotfiles of ['ignore', 'allow'] as const) {
      const server = express().use(express.static(root, { dotfiles })).listen(0, '127.0.0.1')
      await once(server, 'listening')
      servers.push(server)
      ports[dotfiles] = (server.address() as AddressInfo).port
    }
  })
  after(async () => {
    for (const server of servers) server.close()
    await rm(dir, { recursive: true, force: true })
  })

  const URLS = [
    '/app.css',
    '/css/app.css',
    '/css%2fapp.css',
    '/css%2f..%2fapp.css',
    '/css/./app.css',
    '/%61pp.css',
    '/app%2ecss',
    '/app.css?v=1',
    '/a%5cb',
    '/.env',
    '/%2eenv',
    '/css%2F..%2F.env',
    '/.git/config',
    '/.git%2fconfig',
    '/..%5cup',
    '/%2e%2e%2fapp.css',
    '/app.css%00',
    '/%E0%A4%A',
    '/css',
    '/css/',
  ]

  async function served(port: number, url: string): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: url }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
        })
        .on('error', reject)
    })
  }

  for (const dotfiles of ['ignore', 'allow'] as const) {
    test(`dotfiles "${dotfiles}": a URL names a file exactly when express.static answers 200 with that file`, async () => {
      const named: string[] = []
      for (const url of URLS) {
        const file = fileUnderRoot(root, url, dotfiles)
        const answer = await served(ports[dotfiles]!, url)
        if (file !== undefined && existsSync(file) && statSync(file).isFile()) {
          named.push(url)
          assert.equal(answer.status, 200, `${url}: we push ${file}, express.static answers ${answer.status}`)
          assert.ok(answer.body.equals(readFileSync(file)), `${url}: express.static serves another file than ${file}`)
        } else if (!url.endsWith('/') && url !== '/css') {
          assert.notEqual(answer.status, 200, `${url}: express.static serves it, we do not push it from root`)
        }
      }
      assert.ok(named.includes('/css%2f..%2fapp.css') && named.includes('/a%5cb'), named.join(' '))
    })
  }
})
