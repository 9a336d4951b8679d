/**
 * GET /header: `X-custom-header: custom header`, status 204 (200 on node:http2, which ends every 204), headers flushed at once,
 * the stream held open until the client leaves, the server shuts down or the hold time runs out (see hold-open.ts).
 */
import type { RequestHandler } from 'express'
import { heldStreams, type HeldStreams } from './hold-open.js'
import { heldStatus } from '../src/transports/held-status.js'

export const CUSTOM_HEADER = ['X-custom-header', 'custom header'] as const

export function header(held: HeldStreams = heldStreams()): RequestHandler {
  return function headerRoute(req, res) {
    if (!held.admit(req, res)) return
    res.setHeader(CUSTOM_HEADER[0], CUSTOM_HEADER[1])
    res.status(heldStatus(res))
    res.flushHeaders()
    held.hold(req, res)
  }
}
