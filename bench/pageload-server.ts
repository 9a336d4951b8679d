/**
 * The page the page-load benchmarks load (bench/pageload.ts), one server per child process.
 * Prints `listening <port>`.
 *
 * Environment:
 * - TRANSPORT:   'spdy' | 'http2'
 * - HOST, PORT:  where to listen (PORT 0: any free port)
 * - CERT, KEY:   PEM files (the same certificate the reference server uses, so both pay for the same handshake)
 * - SITE:        folder holding page10.html and a/0.css … a/9.css (written by bench/pageload.ts)
 * - SCENARIO:    'nghttp': GET /page10.html with express.static's defaults, the stylesheets pushed by the manifest;
 *                'browser': GET / thinks THINK_MS before express.static answers index.html, the stylesheets
 *                served with maxAge '1h' (Chromium reuses early-hints preloads only when fresh)
 * - EARLY_HINTS: '1' (default) or '0': the middleware's `earlyHints` option
 * - THINK_MS:    how long the browser scenario's route thinks (default 300)
 *
 * In the browser scenario it also prints the server's side of each load's timeline (bench/timeline-server.ts).
 */
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import express from 'express'
import { createServer, pushManifest, type PushManifest } from '../index.js'
import { mark, markConnections, markRequests } from './timeline-server.js'

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback
  if (value === undefined) throw new Error(`pageload-server: ${name} is required`)
  return value
}
const transport = env('TRANSPORT', 'spdy') === 'http2' ? 'http2' : 'spdy'
const site = env('SITE')
const scenario = env('SCENARIO', 'nghttp')
const earlyHints = env('EARLY_HINTS', '1') !== '0'
const thinkMs = Number(env('THINK_MS', '300'))
const STYLESHEETS = 10

const entries: PushManifest[string] = {}
for (let i = 0; i < STYLESHEETS; i++) entries[`/a/${i}.css`] = { type: 'style' }

const app = express()
if (scenario === 'browser') {
  app.use(markRequests())
  app.use(pushManifest({ manifest: { '/': entries }, root: site, watch: false, earlyHints }))
  app.get('/', (_req, _res, next) => {
    setTimeout(() => {
      mark('think-end')
      next()
    }, thinkMs)
  })
  app.use(express.static(site, { maxAge: '1h' }))
} else {
  app.use(pushManifest({ manifest: { '/page10.html': entries }, root: site, watch: false, earlyHints }))
  app.use(express.static(site))
}

const server = await createServer(app, { key: readFileSync(env('KEY')), cert: readFileSync(env('CERT')), transport, handleSignals: true })
if (scenario === 'browser') markConnections(server)
server.listen(Number(env('PORT', '0')), env('HOST', '127.0.0.1'), () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`)
})
