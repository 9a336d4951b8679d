/**
 * Behind a real edge: H2O and nginx (examples/h2o.conf, examples/nginx.conf, filled in for
 * loopback ports in a temporary folder) terminate TLS and HTTP/2 in front of an app on
 * plain HTTP/1.1 with `pushManifest({ behindProxy: true })`. Through each, with nghttp:
 * a first visit is pushed the manifest's entries by the edge; a returning visit that
 * sends the digest cookie back is pushed nothing again.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net, { type AddressInfo } from 'node:net'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import express from 'express'
import { pushManifest } from '../index.js'
import { testCertificate } from './helpers/tls.js'
import { nghttp, type Frame } from './helpers/nghttp.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SITE = fileURLToPath(new URL('./fixtures/site/', import.meta.url))
const MANIFEST = { '/page': { '/css/app.css': { type: 'style' }, '/js/app.js': { type: 'script' } } } as const
const PUSHED = ['/css/app.css', '/js/app.js']

function which(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' })
  return found.status === 0 ? found.stdout.trim() : undefined
}

async function freePort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}

/** A template from examples/ with its `${NAME}`s replaced (only the names given). */
async function fill(template: string, values: Record<string, string>): Promise<string> {
  let text = await readFile(join(ROOT, 'examples', template), 'utf8')
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`\${${name}}`, value)
  assert.doesNotMatch(text.replace(/^#.*$/gm, ''), /\$\{[A-Z_]+\}/, `${template}: a \${NAME} left unfilled`)
  return text
}

/** Resolves once the edge accepts TCP connections on `port` (it binds after reading its config). */
async function accepting(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`edge exited (${child.exitCode ?? child.signalCode}): ${log()}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`edge not listening on ${port}: ${log()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface Edge {
  name: string
  binary: string
  template: string
  /** Fills the template and returns the command line that runs the engine in the foreground. */
  args(dir: string, port: number, app: string, conf: string): Record<string, string>
  command(dir: string, conf: string): string[]
  /**
   * `earlyHints` for the app: nginx before 1.29 takes an upstream's 103 for the final
   * response (it pushes its links, sends the 103 as the page's HEADERS and drops the 200).
   */
  earlyHints: boolean
}

const EDGES: Edge[] = [
  {
    name: 'H2O',
    binary: 'h2o',
    template: 'h2o.conf',
    args: (dir, port, app) => ({
      HOST: '127.0.0.1',
      PORT: String(port),
      APP: app,
      TLS_CERT: join(dir, 'cert.pem'),
      TLS_KEY: join(dir, 'key.pem'),
      RUN_DIR: dir,
    }),
    command: (_dir, conf) => ['-c', conf],
    earlyHints: true,
  },
  {
    name: 'nginx',
    binary: 'nginx',
    template: 'nginx.conf',
    args: (dir, port, app) => ({ LISTEN: `127.0.0.1:${port}`, APP: app, TLS_CERT: join(dir, 'cert.pem'), TLS_KEY: join(dir, 'key.pem'), RUN_DIR: dir }),
    command: (dir, conf) => ['-g', 'daemon off;', '-p', dir, '-c', conf],
    earlyHints: false,
  },
]

function pushPromises(frames: Frame[]): string[] {
  return frames.filter((f) => f.dir === 'recv' && f.type === 'PUSH_PROMISE').map((f) => f.headers?.[':path'] ?? '?')
}

/** The digest cookie (`name=value`) from the page's response HEADERS. */
function digestCookie(frames: Frame[]): string | undefined {
  const response = frames.find((f) => f.dir === 'recv' && f.type === 'HEADERS' && f.streamId % 2 === 1 && f.headers?.[':status'])
  return response?.headers?.['set-cookie']?.split(';')[0]
}

for (const edge of EDGES) {
  const binary = which(edge.binary)
  describe(`behind ${edge.name} (${edge.binary}, examples/${edge.template})`, {
    skip: binary ? false : `${edge.binary} is not installed (apt-get install ${edge.binary}; .ci/run installs it)`,
  }, () => {
    let dir: string
    let app: http.Server
    let child: ChildProcess
    let url: string
    let log = ''

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `h2push-${edge.binary}-`))
      // Started as root, the engines write their logs and pid file as an unprivileged user.
      await chmod(dir, 0o777)
      const tls = await testCertificate()
      await writeFile(join(dir, 'key.pem'), tls.key, { mode: 0o644 })
      await writeFile(join(dir, 'cert.pem'), tls.cert)
      const site = express()
      site.use(pushManifest({ manifest: MANIFEST, root: SITE, watch: false, behindProxy: true, earlyHints: edge.earlyHints }))
      site.get('/page', (_req, res) => {
        res.type('html').send('<!doctype html><title>page</title><link rel="stylesheet" href="/css/app.css"><script src="/js/app.js"></script>')
      })
      site.use(express.static(SITE, { maxAge: '1h' }))
      app = http.createServer(site).listen(0, '127.0.0.1')
      await once(app, 'listening')
      const appAddress = `127.0.0.1:${(app.address() as AddressInfo).port}`
      const port = await freePort()
      const conf = join(dir, edge.template)
      await writeFile(conf, await fill(edge.template, edge.args(dir, port, appAddress, conf)))
      child = spawn(binary!, edge.command(dir, conf), { stdio: ['ignore', 'pipe', 'pipe'] })
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d))
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d))
      await accepting(port, child, () => log)
      url = `https://127.0.0.1:${port}`
    })

    after(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
      await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()))
      if (dir) await rm(dir, { recursive: true, force: true })
    })

    test('first visit: the edge pushes the manifest entries; the response sets the digest cookie', async () => {
      const { frames, stdout } = await nghttp(`${url}/page`)
      assert.deepEqual(pushPromises(frames).sort(), PUSHED, stdout)
      assert.match(digestCookie(frames) ?? '', /^h2push=/, stdout)
      // The pushed streams were answered in full.
      const pushed = frames.filter((f) => f.dir === 'recv' && f.type === 'HEADERS' && f.streamId % 2 === 0).map((f) => f.headers?.[':status'])
      assert.deepEqual(pushed, ['200', '200'], stdout)
      // Neither edge passes a 103 on: H2O 2.2 drops the app's, the nginx app sends none.
      const hints = frames.filter((f) => f.dir === 'recv' && f.type === 'HEADERS' && f.headers?.[':status'] === '103')
      assert.equal(hints.length, 0, stdout)
    })

    test('returning visit with the cookie: nothing pushed again', async () => {
      const first = await nghttp(`${url}/page`)
      const cookie = digestCookie(first.frames)
      assert.ok(cookie, first.stdout)
      const again = await nghttp(`${url}/page`, ['-H', `cookie: ${cookie}`])
      assert.deepEqual(pushPromises(again.frames), [], again.stdout)
      const status = again.frames.find((f) => f.dir === 'recv' && f.type === 'HEADERS' && f.streamId % 2 === 1 && f.headers?.[':status'] !== '103')
      assert.equal(status?.headers?.[':status'], '200', again.stdout)
      // A visitor without the cookie is pushed everything again.
      assert.deepEqual(pushPromises((await nghttp(`${url}/page`)).frames).sort(), PUSHED)
    })
  })
}
