/**
 * GET /push: pushes /crt (PUSH_PROMISE on the wire before this response's HEADERS),
 * then answers 200. A client that refuses push gets `Link: </crt>; rel=preload`.
 */
import type { RequestHandler, Response } from 'express'
import createDebug from 'debug'
import { getPusher, type PushOutcome } from '../src/transports/pusher.js'
import type { CrtResponse } from './crt.js'

const debug = createDebug('express-h2-push:routes')

export const CRT_PRELOAD_LINK = '</crt>; rel=preload; as=fetch; crossorigin'

/**
 * Pushes the /crt response on `res`'s stream. Resolves `false` when this response
 * cannot push; once the PUSH_PROMISE is queued, resolves `true` (the body goes out
 * in the background; `onOutcome` hears how it ended).
 */
export async function pushCrt(
  res: Response,
  crt: CrtResponse,
  extraHeaders: Readonly<Record<string, string>>,
  onOutcome: (outcome: PushOutcome) => void = () => {},
): Promise<boolean> {
  const pusher = getPusher(res)
  if (!pusher) return false
  try {
    const stream = await pusher.push('/crt')
    void stream.respond(200, { ...extraHeaders, ...crt.headers }, crt.body).then((outcome) => {
      debug('push /crt on stream %d: %s (%d bytes)', stream.id, outcome.status, outcome.bytes)
      onOutcome(outcome)
    })
    return true
  } catch (err) {
    debug('push /crt not sent: %s', (err as Error).message)
    return false
  }
}

export function push(crt: CrtResponse, securityHeaders: Readonly<Record<string, string>>): RequestHandler {
  return async function pushRoute(_req, res) {
    const pushed = await pushCrt(res, crt, securityHeaders)
    if (!pushed) res.setHeader('Link', CRT_PRELOAD_LINK)
    res.status(200).type('text/plain').send(pushed ? 'pushed /crt\n' : 'push not accepted by this client: /crt is preloaded instead\n')
  }
}
