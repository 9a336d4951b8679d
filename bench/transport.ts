/**
 * Transport: GET /crt req/s on stock spdy vs spdy + the compatibility layer vs node:http2.
 *   npm run bench:transport   (ROUNDS=5 REQUESTS=20000 CLIENTS=50 STREAMS=10)
 */
import { compare } from './harness.js'

await compare('transport', 'Transport (demo app)', '/crt', ['stock', 'compat', 'http2'])
