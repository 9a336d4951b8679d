/**
 * A server for bench/transport.ts: the demo app (no request log) on stock spdy
 * (MODE=stock) or through createServer with the compatibility layer (MODE=compat).
 * Prints `listening <port>`.
 */
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:https'
import { createServer, generateLocalhostCertificate } from '../src/index.js'
import { createDemoApp } from '../routes/index.js'

const mode = process.env['MODE'] ?? 'compat'
const tls = await generateLocalhostCertificate(1)
const app = createDemoApp({ certificate: tls.cert, logRequests: false })

let server: Server
if (mode === 'stock') {
  const spdy = createRequire(import.meta.url)('spdy') as { createServer(o: object, a: unknown): Server }
  server = spdy.createServer({ key: tls.key, cert: tls.cert }, app)
} else {
  server = await createServer(app, { ...tls, handleSignals: true })
}
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`)
})
