/**
 * The servers of bench/bridge.ts, one per child process: Express over node:http2 through
 * our bridge and through its peer (http2-express), and the baselines that break down the
 * gap to bare node:http2. Every one answers GET /crt with the same 573-byte body (the
 * certificate the server presents, as the demo's /crt). Prints `listening <port>`.
 * MODE:
 * - bare-http2-stream:  node:http2, the stream API (`server.on('stream')`), TLS
 * - bare-http2-compat:  node:http2, the compatibility API (`createSecureServer(options, handler)`), TLS
 * - ours-http2:         the Express app through createServer({ transport: 'http2' }), TLS
 * - http2-express:      the same Express app made by http2-express, on `createSecureServer({ allowHTTP1: true })`, TLS
 * - express-http1:      the same Express app on node:http (HTTP/1.1, no TLS)
 * - bare-http1:         node:http, a bare handler (HTTP/1.1, no TLS)
 */
import { createRequire } from 'node:module'
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import express, { type Express } from 'express'
import etag from 'etag'
import { createServer, generateLocalhostCertificate } from '../index.js'

const mode = process.env['MODE'] ?? 'ours-http2'
const tls = await generateLocalhostCertificate(1)
const body = Buffer.from(tls.cert)
const headers = {
  'content-type': 'application/x-pem-file',
  'content-length': String(body.length),
  etag: etag(body),
  'cache-control': 'public, max-age=3600',
}

/** The Express app every Express mode serves: one route, no middleware. */
function crtApp(app: Express): Express {
  app.get('/crt', (_req, res) => {
    res.set(headers)
    res.status(200).end(body)
  })
  return app
}

/** The peer bridge: http2-express wraps `express` (it patches express.application, so only this process loads it). */
function peerApp(): Express {
  const http2Express = createRequire(import.meta.url)('http2-express') as (e: typeof express) => Express
  return crtApp(http2Express(express))
}

async function server(): Promise<{ listen(port: number, host: string, cb: () => void): unknown; address(): unknown }> {
  const secure = { key: tls.key, cert: tls.cert }
  switch (mode) {
    case 'bare-http2-stream': {
      const s = http2.createSecureServer(secure)
      s.on('stream', (stream) => {
        stream.respond({ ':status': 200, ...headers })
        stream.end(body)
      })
      return s
    }
    case 'bare-http2-compat':
      return http2.createSecureServer(secure, (_req, res) => {
        res.writeHead(200, headers)
        res.end(body)
      })
    case 'ours-http2':
      return createServer(crtApp(express()), { ...secure, transport: 'http2' })
    case 'http2-express':
      return http2.createSecureServer({ ...secure, allowHTTP1: true }, peerApp() as never)
    case 'express-http1':
      return http.createServer(crtApp(express()))
    case 'bare-http1':
      return http.createServer((_req, res) => {
        res.writeHead(200, headers)
        res.end(body)
      })
    default:
      throw new Error(`bridge-server: unknown MODE ${mode}`)
  }
}

const s = await server()
s.listen(0, '127.0.0.1', () => console.log(`listening ${(s.address() as AddressInfo).port}`))
process.once('SIGTERM', () => process.exit(0))
