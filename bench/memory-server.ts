/**
 * The server of bench/memory.ts, forked with --expose-gc; answers 'measure' with its
 * memory after garbage collection, and 'snapshot <file>' with a heap snapshot written there. TRANSPORT: spdy | http2. LAYERS, to tell apart what
 * each layer keeps per held /header stream:
 * - bare:    the transport alone, a request listener that sends the headers and holds
 *            (spdy with the compatibility layer; node:http2's compatibility API)
 * - express: Express 5 with only the /header route, through createServer
 * - helmet:  the same with helmet (the demo's `security()`) in front
 * - demo:    the demo app (helmet, pushManifest, the four routes), through createServer
 */
import type { EventEmitter } from 'node:events'
import type { AddressInfo } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import http2 from 'node:http2'
import { writeHeapSnapshot } from 'node:v8'
import express from 'express'
import { createServer, generateLocalhostCertificate, installSpdyCompat, type Transport } from '../index.js'
import { createDemoApp } from '../routes/index.js'
import { header } from '../routes/header.js'
import { security } from '../middleware/security.js'

const tls = await generateLocalhostCertificate(1)
const transport = (process.env['TRANSPORT'] ?? 'spdy') as Transport
const layers = process.env['LAYERS'] ?? 'demo'

function bareListener(status: number) {
  return (req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('x-custom-header', 'custom header')
    res.writeHead(status)
    res.flushHeaders()
    req.once('close', () => res.end())
  }
}

type Listening = { listen(port: number, host: string, cb: () => void): unknown; address(): unknown }
let server: Listening
if (layers === 'bare') {
  server =
    transport === 'http2'
      ? http2.createSecureServer({ key: tls.key, cert: tls.cert }, bareListener(200) as never)
      : (installSpdyCompat().createServer({ key: tls.key, cert: tls.cert }, bareListener(204)) as Listening)
} else if (layers === 'express' || layers === 'helmet') {
  const app = express()
  if (layers === 'helmet') app.use(security())
  app.get('/header', header())
  server = await createServer(app, { ...tls, transport })
} else {
  server = await createServer(createDemoApp({ certificate: tls.cert, logRequests: false, watchManifest: false }), { ...tls, transport })
}
const gc = (globalThis as { gc?: () => void }).gc
/** The requests not closed yet: bench/memory.ts waits for none before it measures what is left. */
let open = 0
;(server as unknown as EventEmitter).on('request', (req: IncomingMessage) => {
  open++
  req.once('close', () => open--)
})
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }))
process.on('message', async (message) => {
  if (message === 'measure') {
    for (let i = 0; i < 3; i++) {
      gc?.()
      await new Promise((r) => setTimeout(r, 50))
    }
    const { rss, heapUsed, heapTotal, external } = process.memoryUsage()
    process.send?.({ rss, heapUsed, heapTotal, external, open })
  } else if (message === 'open') {
    process.send?.({ open })
  } else if (typeof message === 'string' && message.startsWith('snapshot ')) {
    // A heap snapshot, to compare the heap after one cycle of held streams with after another.
    gc?.()
    process.send?.({ file: writeHeapSnapshot(message.slice('snapshot '.length)) })
  } else if (message === 'stop') {
    process.exit(0)
  }
})
