/**
 * Real servers on port 0 over real TLS, in-process or as a child process: the package's
 * own (createServer, pushManifest). The demo app (routes/) is started by ./demo.ts.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import type { RequestListener } from 'node:http'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { createServer, pushManifest, type CreateServerOptions, type H2PushServer, type PushManifest } from '../../index.js'
import { testCertificate } from './tls.js'

import type { Transport } from '../../index.js'

/** Every transport the transport-independent suites run on. */
export const TRANSPORTS: readonly Transport[] = ['spdy', 'http2']

/** The status of a held-open response: 204, except on node:http2 (which ends every 204). */
export function heldStatusOn(transport: Transport): number {
  return transport === 'http2' ? 200 : 204
}

export interface Running {
  server: H2PushServer
  url: string
  port: number
  close(): Promise<void>
}

export async function startServer(app: RequestListener, options: CreateServerOptions = {}): Promise<Running> {
  const tls = await testCertificate()
  const server = await createServer(app, { ...tls, ...options })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return { server, port, url: `https://127.0.0.1:${port}`, close: () => server.shutdown() }
}

/**
 * `/page.html` (1000 bytes, from express.static) with a manifest that pushes `count`
 * stylesheets of `size` bytes, `/0.css` first.
 */
export async function startPushPage(transport: Transport, count: number, size: number): Promise<Running> {
  const site = await mkdtemp(join(tmpdir(), 'h2push-page-'))
  await writeFile(join(site, 'page.html'), 'x'.repeat(1000))
  const manifest: PushManifest = { '/page.html': {} }
  for (let i = 0; i < count; i++) {
    await writeFile(join(site, `${i}.css`), 'c'.repeat(size))
    manifest['/page.html']![`/${i}.css`] = { type: 'style' }
  }
  const app = express()
  app.use(pushManifest({ manifest, root: site, watch: false }))
  app.use(express.static(site))
  return startServer(app, { transport })
}

/** The page with 8 stylesheets of 10 KB: 80 KB of pushes, more than a client's initial 64 KB connection window. */
export function startWindowFillingPage(transport: Transport): Promise<Running> {
  return startPushPage(transport, 8, 10 * 1024)
}

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface ChildServer {
  child: ChildProcessWithoutNullStreams
  url: string
  stdout: () => string
  stderr: () => string
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>
}

/**
 * Runs a server script through tsx with the test certificate in TLS_KEY/TLS_CERT,
 * PORT=0 and HOST=127.0.0.1; resolves once stdout matches `ready` (group 1: its URL).
 */
export async function spawnServer(script: string, ready: RegExp, env: Record<string, string> = {}): Promise<ChildServer> {
  const tls = await testCertificate()
  const { mkdtemp, writeFile } = await import('node:fs/promises')
  const { join } = await import('node:path')
  const { tmpdir } = await import('node:os')
  const dir = await mkdtemp(join(tmpdir(), 'h2push-'))
  await writeFile(join(dir, 'key.pem'), tls.key, { mode: 0o600 })
  await writeFile(join(dir, 'cert.pem'), tls.cert)
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      TLS_KEY: join(dir, 'key.pem'),
      TLS_CERT: join(dir, 'cert.pem'),
      NODE_OPTIONS: '',
      ...env,
    },
    stdio: 'pipe',
  })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${out} ${err}`)), 20_000)
    child.stdout.on('data', () => {
      const m = ready.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited with ${code}: ${out} ${err}`))
    })
  })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    async stop(signal = 'SIGTERM') {
      const start = Date.now()
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const [code, sig] = await exited
      return { code, signal: sig, ms: Date.now() - start }
    },
  }
}

/** Kept for the tests that still import it from here (test/cli.test.ts): the demo is ./demo.ts's. */
export { startDemo } from './demo.js'
