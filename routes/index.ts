/**
 * The demo app: helmet on every response, request logging, and the four routes of
 * the Go article (/header, /crt, /push, /autoPush) plus an index page.
 */
import express, { type Express } from 'express'
import morgan from 'morgan'
import { security, securityHeaders } from '../middleware/security.js'
import { pushManifest, type PushManifestOptions } from '../middleware/push-manifest.js'
import { header } from './header.js'
import { crt, crtResponse } from './crt.js'
import { push } from './push.js'
import { autoPush, DEFAULT_AUTOPUSH_INTERVAL_MS } from './auto-push.js'
import { DEFAULT_HOLD_LIMITS, heldStreams } from './hold-open.js'

export interface DemoAppOptions {
  /** The server's PEM certificate, served at /crt. */
  certificate: string | Buffer
  /** Interval of /autoPush, in ms. Default 5000. */
  autoPushIntervalMs?: number
  /** Log one line per request to stdout (morgan `tiny`). Default `true`. */
  logRequests?: boolean
  /** The morgan format of that line. Default `'tiny'`. */
  requestLogFormat?: string
  /** The push manifest (file path or object). Default {@link DEMO_MANIFEST}. */
  manifest?: PushManifestOptions['manifest']
  /** Watch the manifest file for edits. Default: as pushManifest (on outside production). */
  watchManifest?: boolean
  /** Streams /header and /autoPush together may hold open on one connection; the next gets 503. `0`: no cap. Default 100. */
  maxHeldPerConnection?: number
  /** How long /header and /autoPush hold a stream, in ms, before ending it (END_STREAM). `0`: until the client leaves. Default 600000. */
  holdMaxMs?: number
}

/** The demo's manifest, as in push-manifest.json: /push pushes /crt. */
export const DEMO_MANIFEST = Object.freeze({ '/push': { '/crt': { type: 'fetch' as const } } })

const INDEX = `<!doctype html>
<meta charset="utf-8">
<title>express-h2-push demo</title>
<h1>express-h2-push demo</h1>
<ul>
<li><a href="/header">/header</a>: 204 with X-custom-header, held open (at most 10 minutes by default)</li>
<li><a href="/crt">/crt</a>: the server certificate</li>
<li><a href="/push">/push</a>: answers, with /crt pushed first (push-manifest.json)</li>
<li><a href="/autoPush">/autoPush</a>: held open, pushes /crt periodically</li>
</ul>
<p>Browsers no longer accept push: watch it with <code>nghttp -nv https://localhost:8443/push</code>.</p>
`

export function createDemoApp(options: Readonly<DemoAppOptions>): Express {
  const held = heldStreams({
    maxPerConnection: options.maxHeldPerConnection ?? DEFAULT_HOLD_LIMITS.maxPerConnection,
    maxMs: options.holdMaxMs ?? DEFAULT_HOLD_LIMITS.maxMs,
  })
  const crtRes = crtResponse(options.certificate)
  const pushedHeaders = securityHeaders()
  const app = express()
  app.use(security())
  if (options.logRequests ?? true) app.use(morgan(options.requestLogFormat ?? 'tiny'))
  app.use(
    pushManifest({
      manifest: options.manifest ?? DEMO_MANIFEST,
      ...(options.watchManifest === undefined ? {} : { watch: options.watchManifest }),
    }),
  )
  app.get('/', (_req, res) => {
    res.type('html').send(INDEX)
  })
  app.get('/header', header(held))
  app.get('/crt', crt(options.certificate))
  app.get('/push', push())
  app.get('/autoPush', autoPush(crtRes, pushedHeaders, options.autoPushIntervalMs ?? DEFAULT_AUTOPUSH_INTERVAL_MS, held))
  return app
}
