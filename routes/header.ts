/**
 * GET /header: `X-custom-header: custom header`, status 204 (200 on node:http2, which ends every 204), headers flushed at once,
 * the stream held open until the client leaves or the server shuts down.
 */
import type { RequestHandler } from 'express'
import { holdOpen } from './hold-open.js'
import { heldStatus } from '../src/transports/held-status.js'

export const CUSTOM_HEADER = ['X-custom-header', 'custom header'] as const

export function header(): RequestHandler {
  return function headerRoute(req, res) {
    res.setHeader(CUSTOM_HEADER[0], CUSTOM_HEADER[1])
    res.status(heldStatus(res))
    res.flushHeaders()
    holdOpen(req, res)
  }
}
