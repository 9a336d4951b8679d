/**
 * The server of bench/connection-setup.ts, one per child process: an Express app on `createServer`
 * whose GET / answers "ok", timing each connection from its TLS handshake to its request in the app.
 * Prints `listening <port>`; GET /stats answers the timings so far as JSON: per connection,
 * `gap` (ms from the server's first 'secureConnection' listener, before the transport's own, to the
 * route) and `cpu` (the process's CPU time over that span, ms).
 *
 * `startMs` is how long `createServer` took (spdy's warm-up included).
 *
 * Environment: TRANSPORT ('spdy' | 'http2'), WARM_UP ('0': `warmUp: false`), KEY and CERT (PEM files).
 */
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import express from 'express'
import { createServer } from '../index.js'

const transport = process.env['TRANSPORT'] === 'http2' ? 'http2' : 'spdy'
const cpuMs = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

let tls = 0
let cpu = 0
const gaps: number[] = []
const cpus: number[] = []
const app = express()
app.get('/', (_req, res) => {
  gaps.push(performance.now() - tls)
  cpus.push(cpuMs() - cpu)
  res.end('ok')
})
app.get('/stats', (_req, res) => {
  res.end(JSON.stringify({ gap: gaps, cpu: cpus, startMs }))
})

const key = readFileSync(process.env['KEY']!)
const cert = readFileSync(process.env['CERT']!)
const started = performance.now()
const server = await createServer(app, { key, cert, transport, warmUp: process.env['WARM_UP'] !== '0' })
const startMs = performance.now() - started
// Before the transport's own listener: the time includes making the HTTP/2 connection.
server.prependListener('secureConnection', () => {
  tls = performance.now()
  cpu = cpuMs()
})
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`)
})
