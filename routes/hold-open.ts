/**
 * Keeps a response's stream open (headers sent, no END_STREAM) until the client
 * leaves or the server shuts down; then runs `release` once and ends the response.
 */
import type { Request, Response } from 'express'
import { getShutdownSignal } from '../src/server/create-server.js'

export function holdOpen(req: Request, res: Response, release: () => void = () => {}): void {
  const signal = getShutdownSignal(req)
  let released = false
  const done = (): void => {
    if (released) return
    released = true
    signal?.removeEventListener('abort', onShutdown)
    res.off('close', done)
    release()
  }
  const onShutdown = (): void => {
    done()
    if (!res.writableEnded) res.end()
  }
  res.once('close', done)
  if (signal?.aborted) onShutdown()
  else signal?.addEventListener('abort', onShutdown, { once: true })
}
