/**
 * The library's core: transports and their compatibility layer, the Pusher, servers,
 * the push engine's types and errors. The package's entry (`index.ts` at the top) adds
 * the middleware (`middleware/`) to it; nothing here imports `middleware/` or `routes/`.
 */

export { installSpdyCompat } from './compat/spdy/index.js'
export { expressOverHttp2 } from './transports/http2/bridge.js'
export { heldStatus } from './transports/held-status.js'
export {
  createServer,
  resolveTls,
  getShutdownSignal,
  type CreateServerOptions,
  type H2PushServer,
  type TlsMaterial,
  type Transport,
} from './server/create-server.js'
export { runClustered, type ClusterOptions } from './server/cluster.js'
export { DEFAULT_LIMITS, type H2Limits, type RateLimit } from './server/limits.js'
export { generateLocalhostCertificate, loadDevCertificate } from './server/dev-certificate.js'
export { getPusher } from './transports/get-pusher.js'
export type {
  Pusher,
  PushStream,
  PushOptions,
  PushOutcome,
  PushBody,
} from './transports/pusher.js'
export { H2PushError, PushManifestError, ErrorCodes, WarningCodes, type ErrorCode, type WarningCode, type ManifestLocation } from './errors.js'
export type { PushManifest, PushManifestEntry } from './manifest/load.js'
export type { PushEvent, PushStats, SkipReason } from './push/events.js'
export { DEFAULT_INHERITED_HEADERS } from './push/inherited-headers.js'
export { pushManifestSchema } from './manifest/schema.js'
