/**
 * Held-open responses (/header, /autoPush): headers sent, no END_STREAM, until the
 * client leaves, the server shuts down, or the stream has been held `maxMs`; then
 * `release` runs once and the response is ended (END_STREAM).
 *
 * Bounds: at most `maxPerConnection` held streams per HTTP/2 connection (the next
 * request on it is answered 503 at once), each held at most `maxMs`.
 *
 * One 'abort' listener per shutdown signal ends every response held under it (a
 * listener per held stream cost about 1 KB per stream in `npm run bench:memory`), and
 * one timer per set of held streams ends them at their deadlines: they all share
 * `maxMs`, so the oldest held is always the next due.
 */
import type { Request, Response } from 'express'
import type { Http2ServerRequest } from 'node:http2'
import { performance } from 'node:perf_hooks'
import { getShutdownSignal } from '../src/server/create-server.js'
import type { SpdyRequest } from '../src/compat/spdy/internals.js'

export interface HoldLimits {
  /** Held streams one connection may have open at once; the next request gets 503. `0`: no cap. Default `100`. */
  maxPerConnection?: number
  /** How long a stream is held, in ms; then it is ended with END_STREAM and its timers cleared. `0`: until the client leaves. Default `600000` (10 min). */
  maxMs?: number
}

export const DEFAULT_HOLD_LIMITS = Object.freeze({ maxPerConnection: 100, maxMs: 600_000 })

/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1

interface Held {
  res: Response
  deadline: number
  release: () => void
}

/** Admits and holds streams within one set of limits (one per route, or shared by routes). */
export interface HeldStreams {
  /** False, with a 503 sent, when the request's connection already holds `maxPerConnection` streams. */
  admit(req: Request, res: Response): boolean
  /** Holds `res` open (its headers flushed by the caller); `release` runs once when it ends. */
  hold(req: Request, res: Response, release?: () => void): void
  /** Streams held now. */
  readonly size: number
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
  entry.release()
  if (!entry.res.writableEnded) entry.res.end()
}

/** The HTTP/2 connection a request came on (its socket over HTTP/1.1). */
function connectionOf(req: Request): object {
  return (req as SpdyRequest).spdyStream?.connection ?? (req as unknown as Http2ServerRequest).stream?.session ?? req.socket
}

function checkLimit(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`held streams: ${name} must be an integer from 0 to ${max} (0: no limit), got ${String(value)}`)
  }
}

export function heldStreams(limits: Readonly<HoldLimits> = {}): HeldStreams {
  const { maxPerConnection, maxMs } = { ...DEFAULT_HOLD_LIMITS, ...limits }
  checkLimit('maxPerConnection', maxPerConnection, 2 ** 32 - 1)
  checkLimit('maxMs', maxMs, MAX_TIMER_MS)
  const perConnection = new WeakMap<object, number>()
  // In hold order, which is deadline order.
  const byDeadline = new Set<Held>()
  let timer: NodeJS.Timeout | undefined

  const schedule = (): void => {
    const first = byDeadline.values().next()
    if (first.done) {
      clearTimeout(timer)
      timer = undefined
    } else if (!timer) {
      timer = setTimeout(expire, Math.max(0, first.value.deadline - performance.now()))
    }
  }
  const expire = (): void => {
    timer = undefined
    const now = performance.now()
    for (const entry of byDeadline) {
      if (entry.deadline > now) break
      endHeld(entry)
    }
    schedule()
  }

  return {
    get size() {
      return byDeadline.size
    },
    admit(req, res) {
      if (maxPerConnection === 0 || (perConnection.get(connectionOf(req)) ?? 0) < maxPerConnection) return true
      res
        .status(503)
        .type('text/plain')
        .send(`This connection already holds ${maxPerConnection} open streams, the most it may: close one, or open another connection.\n`)
      return false
    },
    hold(req, res, release = () => {}) {
      const signal = getShutdownSignal(req)
      if (signal?.aborted) {
        release()
        res.end()
        return
      }
      const shutdownSet = signal ? heldUnder(signal) : undefined
      const connection = connectionOf(req)
      let released = false
      const entry: Held = {
        res,
        deadline: maxMs === 0 ? Infinity : performance.now() + maxMs,
        release: function releaseHeld() {
          if (released) return
          released = true
          res.off('close', entry.release)
          shutdownSet?.delete(entry)
          const count = perConnection.get(connection) ?? 1
          if (count <= 1) perConnection.delete(connection)
          else perConnection.set(connection, count - 1)
          if (byDeadline.delete(entry) && byDeadline.size === 0) schedule()
          release()
        },
      }
      shutdownSet?.add(entry)
      perConnection.set(connection, (perConnection.get(connection) ?? 0) + 1)
      if (maxMs !== 0) {
        byDeadline.add(entry)
        schedule()
      }
      res.on('close', entry.release)
    },
  }
}
