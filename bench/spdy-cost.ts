/**
 * spdy at node:http2's cost (issue 24, item 1): the demo app's GET /crt through
 * createServer on node:http2 (the baseline) and on spdy + the compatibility layer,
 * h2load -n 20000 -c 20 -m 10 unless REQUESTS / CLIENTS / STREAMS say otherwise.
 *   npm run bench:build && CLIENTS=20 node dist/bench/spdy-cost.js
 *   CPU_PROF=1 ... then node dist/bench/profile-packages.js compat
 */
import { compare } from './harness.js'

await compare('spdy-cost', 'spdy vs node:http2 (demo app)', process.env['BENCH_PATH'] ?? '/crt', ['http2', 'compat'])
