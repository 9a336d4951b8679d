/**
 * The servers the benchmarks load, one per child process. Prints `listening <port>`.
 * MODE:
 * - stock:          the demo app on stock spdy (no compatibility layer)
 * - compat:         the demo app through createServer (spdy + compatibility layer)
 * - http2:          the demo app through createServer({ transport: 'http2' }) (node:http2)
 * - plain:          helmet + a small route, through createServer
 * - plain+manifest: the same with pushManifest mounted (the route is not in the manifest)
 */
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:https'
import express from 'express'
import { createServer, generateLocalhostCertificate, pushManifest } from '../src/index.js'
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

let server: Server
if (mode === 'stock') {
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
