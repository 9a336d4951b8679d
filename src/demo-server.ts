/**
 * The demo server: `npm run dev` (from source, reloads on change) or `npm start` (built).
 * Environment: PORT (8443), HOST (localhost), TRANSPORT (spdy | http2), TLS_CERT/TLS_KEY (PEM files; a
 * development certificate otherwise), AUTOPUSH_INTERVAL_MS (5000), HOLD_MAX_MS (600000, 0: no limit),
 * MAX_HELD_PER_CONNECTION (100, 0: no cap), PUSH_MANIFEST (push-manifest.json, reloaded on edits outside production).
 */
import { createServer, resolveTls, type Transport } from './index.js'
import { createDemoApp } from '../routes/index.js'

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`express-h2-push demo: ${name}=${JSON.stringify(raw)} is not an integer from ${min} to ${max}`)
    process.exit(1)
  }
  return value
}

const port = intFromEnv('PORT', 8443, 0, 65535)
const host = process.env['HOST'] || 'localhost'
const autoPushIntervalMs = intFromEnv('AUTOPUSH_INTERVAL_MS', 5000, 1, 24 * 3600 * 1000)
const holdMaxMs = intFromEnv('HOLD_MAX_MS', 600_000, 0, 2 ** 31 - 1)
const maxHeldPerConnection = intFromEnv('MAX_HELD_PER_CONNECTION', 100, 0, 2 ** 32 - 1)
const transport = (process.env['TRANSPORT'] || 'spdy') as Transport
if (transport !== 'spdy' && transport !== 'http2') {
  console.error(`express-h2-push demo: TRANSPORT=${JSON.stringify(transport)} is not "spdy" or "http2"`)
  process.exit(1)
}

try {
  const tls = await resolveTls()
  const manifest = process.env['PUSH_MANIFEST'] || 'push-manifest.json'
  const app = createDemoApp({ certificate: tls.cert, autoPushIntervalMs, holdMaxMs, maxHeldPerConnection, manifest })
  const server = await createServer(app, { ...tls, transport, handleSignals: true })
  server.listen(port, host, () => {
    const address = server.address()
    const actualPort = typeof address === 'object' && address ? address.port : port
    const shownHost = host.includes(':') ? `[${host}]` : host
    console.log(`express-h2-push demo listening on https://${shownHost}:${actualPort} (transport: ${server.transport})`)
  })
} catch (err) {
  console.error(`express-h2-push demo: ${(err as Error).message}`)
  process.exit(1)
}
