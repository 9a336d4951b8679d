/**
 * The server of bench/memory.ts, forked with --expose-gc: the demo app on TRANSPORT;
 * answers 'measure' with its memory after garbage collection.
 */
import type { AddressInfo } from 'node:net'
import { createServer, generateLocalhostCertificate, type Transport } from '../src/index.js'
import { createDemoApp } from '../routes/index.js'

const tls = await generateLocalhostCertificate(1)
const transport = (process.env['TRANSPORT'] ?? 'spdy') as Transport
const server = await createServer(createDemoApp({ certificate: tls.cert, logRequests: false, watchManifest: false }), { ...tls, transport })
const gc = (globalThis as { gc?: () => void }).gc
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }))
process.on('message', async (message) => {
  if (message === 'measure') {
    for (let i = 0; i < 3; i++) {
      gc?.()
      await new Promise((r) => setTimeout(r, 50))
    }
    const { rss, heapUsed } = process.memoryUsage()
    process.send?.({ rss, heapUsed })
  } else if (message === 'stop') {
    await server.shutdown()
    process.exit(0)
  }
})
