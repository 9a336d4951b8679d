/**
 * GET /autoPush: `X-custom-header`, status 204 (200 on node:http2), flushed; then pushes /crt every
 * `intervalMs` on the held stream (promised ids 2, 4, 6, ...). The timer stops
 * when the client leaves, the server shuts down or the hold time runs out (see hold-open.ts).
 */
import type { RequestHandler } from 'express'
import { CUSTOM_HEADER } from './header.js'
import { heldStreams, type HeldStreams } from './hold-open.js'
import { heldStatus } from '../src/transports/held-status.js'
import { pushCrt } from './push.js'
import type { CrtResponse } from './crt.js'

export const DEFAULT_AUTOPUSH_INTERVAL_MS = 5000

export function autoPush(
  crt: CrtResponse,
  securityHeaders: Readonly<Record<string, string>>,
  intervalMs = DEFAULT_AUTOPUSH_INTERVAL_MS,
  held: HeldStreams = heldStreams(),
): RequestHandler {
  if (!Number.isInteger(intervalMs) || intervalMs < 1) {
    throw new RangeError(`autoPush: intervalMs must be a positive integer (ms), got ${JSON.stringify(intervalMs)}`)
  }
  return function autoPushRoute(req, res) {
    if (!held.admit(req, res)) return
    res.setHeader(CUSTOM_HEADER[0], CUSTOM_HEADER[1])
    res.status(heldStatus(res))
    res.flushHeaders()
    const timer = setInterval(() => void pushCrt(res, crt, securityHeaders), intervalMs)
    held.hold(req, res, () => clearInterval(timer))
  }
}
