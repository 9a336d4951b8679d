/**
 * The server's side of one page load's timeline (bench/pageload-server.ts, browser scenario):
 * each event is printed on stdout as `tl <event> <ms>` (performance.now(), 0.1 ms), and
 * bench/pageload.ts reads them per navigation (bench/timeline.ts names the phases).
 *
 * Events: `accept` (a TCP connection), `tls` (its handshake done), `page-in` (the page's
 * request reaches the app), `hints` (the middleware called writeEarlyHints), `hints-turn`
 * (the event-loop turn after it: when spdy's batched writes reach the socket), `think-end` (the route's
 * think time is over: express.static starts), `css-in` and
 * `css-out` (a stylesheet's request reaches the app; its response finished), `page-head`
 * (the page's first write: its final HEADERS) and `page-out` (the page's response finished); `other-in`
 * and `other-out` for any other request (the browser's favicon); `cpu` (the process's CPU time, ms, at
 * each connection and each finished response).
 *
 * The lines are kept and written together, FLUSH_MS after the first of them: stdout is a pipe,
 * and a write to a pipe blocks on Linux; a write per event cost the server 4–10 ms per load,
 * inside the load it was measuring (most of its `writeUtf8String` time in a CPU profile).
 */
import type { RequestHandler } from 'express'
import type { Server } from 'node:net'
import { performance } from 'node:perf_hooks'

/** How long after an event its line waits for others (bench/pageload.ts waits longer than this before it reads). */
export const FLUSH_MS = 25

let pending = ''
function flush(): void {
  const lines = pending
  pending = ''
  process.stdout.write(lines)
}

function print(line: string): void {
  if (pending === '') setTimeout(flush, FLUSH_MS)
  pending += line
}

/** Prints one event of the timeline. */
export function mark(event: string): void {
  print(`tl ${event} ${performance.now().toFixed(1)}\n`)
}

/** The process's CPU time so far (user + system), ms: a load's CPU is the last `cpu` mark minus its first. */
function markCpu(): void {
  const { user, system } = process.cpuUsage()
  print(`tl cpu ${((user + system) / 1000).toFixed(1)}\n`)
}

/** Marks every connection and its TLS handshake on `server`. */
export function markConnections(server: Pick<Server, 'on'>): void {
  server.on('connection', () => {
    markCpu()
    mark('accept')
  })
  server.on('secureConnection', () => mark('tls'))
}

type Method = (...args: unknown[]) => unknown

/** Wraps `res`'s writeHead, write and end so that the first call of any is marked as `event`. */
function markFirstWrite(res: object, event: string): void {
  const target = res as Record<string, Method>
  let marked = false
  for (const name of ['writeHead', 'write', 'end']) {
    const original = target[name]
    if (typeof original !== 'function') continue
    target[name] = function markedWrite(this: unknown, ...args: unknown[]): unknown {
      if (!marked) mark(event)
      marked = true
      return original.apply(this, args)
    }
  }
}

/** Wraps `res.writeEarlyHints` so that each call is marked, and the event-loop turn after it. */
function markHints(res: object): void {
  const target = res as Record<string, Method>
  const hints = target['writeEarlyHints']
  if (typeof hints !== 'function') return
  target['writeEarlyHints'] = function markedHints(this: unknown, ...args: unknown[]): unknown {
    const result = hints.apply(this, args)
    mark('hints')
    setImmediate(mark, 'hints-turn')
    return result
  }
}

/** The app's first middleware: marks the page's and the stylesheets' requests and responses. */
export function markRequests(): RequestHandler {
  return (req, res, next) => {
    const page = req.path === '/'
    // Anything else (the browser's /favicon.ico) is marked apart.
    const kind = page ? 'page' : req.path.endsWith('.css') ? 'css' : 'other'
    mark(`${kind}-in`)
    res.once('finish', () => {
      mark(`${kind}-out`)
      markCpu()
    })
    if (page) {
      markHints(res)
      // express.static writes its headers implicitly: the first write or end sends them.
      markFirstWrite(res, 'page-head')
    }
    next()
  }
}
