/**
 * The demo server: `npm run dev` (from source, reloads on change) or `npm start` (built).
 * Environment: PORT (8443), HOST (localhost), TRANSPORT (spdy | http2), TLS_CERT/TLS_KEY (PEM files; a
 * development certificate otherwise), AUTOPUSH_INTERVAL_MS (5000), HOLD_MAX_MS (600000, 0: no limit),
 * MAX_HELD_PER_CONNECTION (100, 0: no cap), PUSH_MANIFEST (push-manifest.json, reloaded on edits outside production),
 * WORKERS (processes sharing the port through node:cluster; default `os.availableParallelism()` when
 * NODE_ENV=production, else 1: one process, no cluster).
 */
import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { createServer, resolveTls, runClustered, type Transport } from '../index.js'
import { createDemoApp } from './index.js'

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
const workers = intFromEnv('WORKERS', process.env['NODE_ENV'] === 'production' ? availableParallelism() : 1, 1, 1024)
const transport = (process.env['TRANSPORT'] || 'spdy') as Transport
if (transport !== 'spdy' && transport !== 'http2') {
  console.error(`express-h2-push demo: TRANSPORT=${JSON.stringify(transport)} is not "spdy" or "http2"`)
  process.exit(1)
}

/** One demo server in this process; its request log names the worker when clustered. */
async function start(): Promise<void> {
  const tls = await resolveTls()
  const manifest = process.env['PUSH_MANIFEST'] || 'push-manifest.json'
  const requestLogFormat = cluster.isWorker ? `worker ${process.pid}: :method :url :status :res[content-length] - :response-time ms` : undefined
  const app = createDemoApp({
    certificate: tls.cert,
    autoPushIntervalMs,
    holdMaxMs,
    maxHeldPerConnection,
    manifest,
    ...(requestLogFormat ? { requestLogFormat } : {}),
  })
  const server = await createServer(app, { ...tls, transport, handleSignals: true })
  server.listen(port, host, () => {
    const address = server.address()
    const actualPort = typeof address === 'object' && address ? address.port : port
    const shownHost = host.includes(':') ? `[${host}]` : host
    const who = cluster.isWorker ? `, worker ${process.pid}` : ''
    console.log(`express-h2-push demo listening on https://${shownHost}:${actualPort} (transport: ${server.transport}${who})`)
  })
}

try {
  // The primary makes (or checks) the development certificate once, before the workers read it.
  if (workers > 1 && cluster.isPrimary) await resolveTls()
  await runClustered(start, { workers })
} catch (err) {
  console.error(`express-h2-push demo: ${(err as Error).message}`)
  process.exit(1)
}
