/**
 * The servers the benchmarks load, one per child process. Prints `listening <port>`.
 * MODE:
 * - stock:          the demo app on stock spdy (no compatibility layer)
 * - compat:         the demo app through createServer (spdy + compatibility layer)
 * - http2:          the demo app through createServer({ transport: 'http2' }) (node:http2)
 * - plain:          helmet + a small route, through createServer
 * - plain+manifest: the same with pushManifest mounted (the route is not in the manifest)
 * - push-handwritten: GET /p pushes 3 static assets with spdy's own res.push (no middleware)
 * - push-manifest:  GET /p pushes the same 3 assets through pushManifest (files under root)
 * - push-dynamic:   the same 3 assets pushed through pushManifest, produced by dispatching to routes
 * TRANSPORT=http2 serves the push-* modes over node:http2 (push-handwritten then pushes with
 * Node's own `res.createPushResponse`).
 */
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:https'
import type { ServerResponse } from 'node:http'
import express from 'express'
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import etag from 'etag'
import { createServer, generateLocalhostCertificate, pushManifest } from '../index.js'
import { security } from '../middleware/security.js'
import { createDemoApp } from '../routes/index.js'

const mode = process.env['MODE'] ?? 'compat'
const tls = await generateLocalhostCertificate(1)

function plainApp(withManifest: boolean) {
  const app = express()
  app.use(security())
  if (withManifest) {
    app.use(
      pushManifest({
        manifest: {
          '/': { '/css/app.css': { type: 'style' }, '/js/app.js': { type: 'script' } },
          '/users/:id': { '/js/user.js': { type: 'script' } },
          '/docs/*': { '/css/docs.css': { type: 'style' } },
          '^/blog/[0-9]+$': { '/css/blog.css': { type: 'style' } },
        },
        watch: false,
      }),
    )
  }
  app.get('/plain', (_req, res) => {
    res.type('text/plain').send('a plain route, not in the manifest\n')
  })
  return app
}

const ASSET_BYTES = Number(process.env['ASSET_BYTES'] ?? 1024)
const ASSETS = ['/a.css', '/b.js', '/c.js'] as const
const assetDir = mkdtempSync(join(tmpdir(), 'h2push-bench-assets-'))
for (const [i, url] of ASSETS.entries()) writeFileSync(join(assetDir, url), Buffer.alloc(ASSET_BYTES, 97 + i))

function pushApp(mode: string) {
  const app = express()
  const noCaching = { diarySize: 0, cacheDigest: false, earlyHints: false, watch: false } as const
  const manifest = { '/p': Object.fromEntries(ASSETS.map((url) => [url, { type: url.endsWith('.css') ? ('style' as const) : ('script' as const) }])) }
  if (mode === 'push-manifest') app.use(pushManifest({ manifest, root: assetDir, ...noCaching }))
  if (mode === 'push-dynamic') {
    app.use(pushManifest({ manifest, ...noCaching }))
    for (const url of ASSETS) {
      const body = readFileSync(join(assetDir, url))
      app.get(url, (_req, res) => {
        res
          .set('cache-control', 'public, max-age=0')
          .type(url.endsWith('.css') ? 'css' : 'js')
          .send(body)
      })
    }
  }
  if (mode === 'push-handwritten') {
    const bodies = ASSETS.map((url) => [url, readFileSync(join(assetDir, url))] as const)
    app.get('/p', (_req, res) => {
      const createPushResponse = (res as unknown as { createPushResponse?: (h: object, cb: (err: Error | null, pushed: ServerResponse) => void) => void })
        .createPushResponse
      if (createPushResponse) {
        for (const [url, body] of bodies) {
          createPushResponse.call(res, { ':path': url, accept: '*/*' }, (err, pushed) => {
            if (err) return
            pushed.on('error', () => {})
            pushed.writeHead(200, {
              'content-type': url.endsWith('.css') ? 'text/css' : 'text/javascript',
              'content-length': String(body.length),
              etag: etag(body),
              'cache-control': 'public, max-age=0',
            })
            pushed.end(body)
          })
        }
        res.send('page')
        return
      }
      const push = (res as unknown as { push?: (path: string, h: object) => NodeJS.WritableStream & { on(e: string, f: () => void): void } }).push
      if (push) {
        for (const [url, body] of bodies) {
          const stream = push.call(res, url, {
            request: { accept: '*/*' },
            response: {
              'content-type': url.endsWith('.css') ? 'text/css' : 'text/javascript',
              'content-length': String(body.length),
              etag: etag(body),
              'cache-control': 'public, max-age=0',
            },
          })
          stream.on('error', () => {})
          stream.end(body)
        }
      }
      res.send('page')
    })
    return app
  }
  app.get('/p', (_req, res) => {
    res.send('page')
  })
  return app
}

let server: Server
if (mode.startsWith('push-')) {
  server = await createServer(pushApp(mode), { ...tls, handleSignals: true, transport: process.env['TRANSPORT'] === 'http2' ? 'http2' : 'spdy' })
} else if (mode === 'stock') {
  const spdy = createRequire(import.meta.url)('spdy') as { createServer(o: object, a: unknown): Server }
  server = spdy.createServer({ key: tls.key, cert: tls.cert }, createDemoApp({ certificate: tls.cert, logRequests: false, watchManifest: false }))
} else if (mode === 'compat' || mode === 'http2') {
  const transport = mode === 'http2' ? 'http2' : 'spdy'
  server = await createServer(createDemoApp({ certificate: tls.cert, logRequests: false, watchManifest: false }), { ...tls, transport, handleSignals: true })
} else {
  server = await createServer(plainApp(mode === 'plain+manifest'), { ...tls, handleSignals: true })
}
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`)
})
