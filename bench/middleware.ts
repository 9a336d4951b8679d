/**
 * Middleware overhead: req/s of a route that is not in the manifest, pushManifest
 * mounted vs not (helmet in both), spdy.
 *   npm run bench:middleware   (ROUNDS=5 REQUESTS=20000 CLIENTS=50 STREAMS=10)
 */
import { compare } from './harness.js'

await compare('middleware', 'Middleware overhead', '/plain', ['plain', 'plain+manifest'])
