/**
 * Keeps a response's stream open (headers sent, no END_STREAM) until the client
 * leaves or the server shuts down; then runs `release` once and ends the response.
 *
 * One 'abort' listener per shutdown signal ends every response held under it: a
 * listener per held stream (an EventTarget Listener and its closures) cost about
 * 1 KB per stream in `npm run bench:memory`.
 */
import type { Request, Response } from 'express'
import { getShutdownSignal } from '../src/server/create-server.js'

interface Held {
  res: Response
  release: () => void
}

const heldBySignal = new WeakMap<AbortSignal, Set<Held>>()

function heldUnder(signal: AbortSignal): Set<Held> {
  let held = heldBySignal.get(signal)
  if (!held) {
    const all = new Set<Held>()
    held = all
    heldBySignal.set(signal, all)
    signal.addEventListener(
      'abort',
      () => {
        for (const entry of all) endHeld(entry)
        all.clear()
      },
      { once: true },
    )
  }
  return held
}

function endHeld(entry: Held): void {
  entry.res.off('close', entry.release)
  entry.release()
  if (!entry.res.writableEnded) entry.res.end()
}

export function holdOpen(req: Request, res: Response, release: () => void = () => {}): void {
  const signal = getShutdownSignal(req)
  if (signal?.aborted) {
    release()
    res.end()
    return
  }
  const held = signal ? heldUnder(signal) : undefined
  const entry: Held = {
    res,
    release: function releaseHeld() {
      res.off('close', entry.release)
      held?.delete(entry)
      const once = release
      release = () => {}
      once()
    },
  }
  held?.add(entry)
  res.on('close', entry.release)
}
