/**
 * GET /push: answers 200; the push manifest (push-manifest.json) pushes /crt before
 * it. `pushCrt` is the hand-made push that /autoPush repeats on its timer.
 */
import type { RequestHandler, Response } from 'express'
import createDebug from 'debug'
import type { PushOutcome } from '../src/transports/pusher.js'
import { getPusher } from '../src/transports/get-pusher.js'
import type { CrtResponse } from './crt.js'

const debug = createDebug('express-h2-push:routes')

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

/**
 * The /push route itself only answers: what it pushes (/crt) is declared in the
 * push manifest, and the push middleware promises it before this response.
 */
export function push(): RequestHandler {
  return function pushRoute(_req, res) {
    res.status(200).type('text/plain').send('This response comes with /crt: pushed where the client accepts push, else preloaded (Link).\n')
  }
}
