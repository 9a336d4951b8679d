/**
 * spdy's streams without a debug call per chunk when nobody listens.
 *
 * spdy-transport's streams, its frame scheduler and parser, and hpack.js's are
 * readable-stream 3 and 2, which take their logger from `util.debuglog('stream')` once, at
 * load time. That logger is a wrapper that collects its arguments and calls the real
 * (no-op) logger on every call, and readable-stream calls it on every chunk it moves
 * (`ondata`, `emitReadable`, `endReadableNT`, ...). In the CPU profile of Express on spdy
 * (`GET /crt`, h2load -c 20 -m 10), Node's `logger` was 1.2 % of the server's busy time in
 * self time alone, for output that is off unless NODE_DEBUG is set.
 *
 * So while spdy loads, `util.debuglog` hands a plain no-op to whoever asks for a section
 * that NODE_DEBUG does not enable (Node reads NODE_DEBUG once, at startup; when it is set
 * at all, every section gets Node's own logger, as before). `util.debuglog` is put back
 * afterwards. Measured effect: see bench/README.md, "spdy at node:http2's cost".
 */
import util from 'node:util'

type Debuglog = typeof util.debuglog

/** Node's own rule (lib/internal/util/debuglog.js): NODE_DEBUG is a comma-separated list of sections, `*` a wildcard, case-insensitive. */
function enabledSections(): RegExp | undefined {
  const list = process.env['NODE_DEBUG']
  if (!list) return undefined
  const pattern = list
    .replace(/[|\\{}()[\]^$+?.]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/,/g, '$|^')
  return new RegExp(`^${pattern}$`, 'i')
}

/** A logger that logs nothing, as Node's own is when its section is off. */
function silent(): ReturnType<Debuglog> {
  const logger = (() => {}) as unknown as ReturnType<Debuglog>
  Object.defineProperty(logger, 'enabled', { value: false, enumerable: true })
  return logger
}

/** Runs `load` with `util.debuglog` answering disabled sections with a plain no-op. */
export function withQuietDebuglog<T>(load: () => T): T {
  const original = util.debuglog
  const enabled = enabledSections()
  util.debuglog = function debuglogWhileSpdyLoads(section: string, callback?: Parameters<Debuglog>[1]) {
    if (enabled?.test(section) ?? false) return original(section, callback)
    return silent()
  } as Debuglog
  try {
    return load()
  } finally {
    util.debuglog = original
  }
}
