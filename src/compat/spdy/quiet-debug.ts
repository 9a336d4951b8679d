/**
 * spdy's `debug` loggers without an array per call when nobody listens.
 *
 * spdy and spdy-transport make their loggers with the `debug` package when their modules
 * load (`require('debug')('spdy:stream:server')` and eight more) and call them on every
 * frame, stream and window update: about forty calls per request. `debug`'s logger is
 * `function debug(...args)`, so every call collects its arguments into a new array before it
 * looks at whether its namespace is on. In the allocation profile of Express on spdy
 * (`GET /crt`, h2load -c 20 -m 10) that was 2.5 KB per request, the third largest site, and
 * the logger was 1 % of the server's busy time, for output that is off unless DEBUG says so.
 *
 * So while spdy loads, `require('debug')` hands spdy a factory whose loggers ask the real
 * logger's `enabled` first and only then call it with the same arguments. `enabled` is
 * `debug`'s own getter, so `DEBUG=spdy:*` at startup and `require('debug').enable(...)` at
 * run time still turn spdy's logging on, as before. The `debug` module's exports are put
 * back afterwards: every other package gets `debug` unchanged.
 */
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

type Logger = ((...args: unknown[]) => void) & { enabled: boolean; namespace?: string }
type Factory = ((namespace: string) => Logger) & Record<string, unknown>

/**
 * How many arguments a quiet logger passes on: the most any debug call of spdy's and
 * spdy-transport's makes is six (a window's refill line), and this layer's make fewer.
 */
const MAX_ARGS = 8

/**
 * A logger that calls `real` only while `real` is enabled, without collecting its arguments
 * first. Its arguments are named parameters (up to MAX_ARGS): a function that reads `arguments`
 * makes the arguments object at every call, before it looks at anything, in V8's interpreter
 * and baseline code, where a young server's loggers run (2.4 KB per request in the allocation
 * profile of a cold page load, `ALLOC=1 npm run bench:cold-load`). When logging, the arguments
 * after the last one given are left out, so a call whose last argument is `undefined` logs
 * without it.
 */
export function quietLogger(real: Logger): Logger {
  const logger = function quietDebug(this: unknown, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, f?: unknown, g?: unknown, h?: unknown) {
    if (real.enabled) logGiven(real, this, [a, b, c, d, e, f, g, h])
  } as unknown as Logger
  Object.defineProperties(logger, {
    enabled: {
      enumerable: true,
      get: () => real.enabled,
      set: (on: boolean) => {
        real.enabled = on
      },
    },
    namespace: { enumerable: true, value: real.namespace },
  })
  return logger
}

/** Calls `real` with `args` up to the last one that is not `undefined`. */
function logGiven(real: Logger, self: unknown, args: unknown[]): void {
  let given = MAX_ARGS
  while (given > 0 && args[given - 1] === undefined) given--
  args.length = given
  Reflect.apply(real, self, args)
}

/** `debug`'s factory, making quiet loggers; every other member is the real factory's. */
function quietFactory(factory: Factory): Factory {
  const create = function createQuietDebug(namespace: string) {
    return quietLogger(factory(namespace))
  } as Factory
  Object.setPrototypeOf(create, factory)
  return create
}

/** Runs `load` with the `debug` modules at `paths` (as spdy's packages resolve them) making quiet loggers. */
export function withQuietDebug<T>(paths: readonly string[], load: () => T): T {
  const swapped: { module: NodeJS.Module; exports: unknown }[] = []
  for (const path of new Set(paths)) {
    require(path)
    const module = require.cache[path]
    if (!module || typeof module.exports !== 'function') continue
    swapped.push({ module, exports: module.exports })
    module.exports = quietFactory(module.exports as Factory)
  }
  try {
    return load()
  } finally {
    for (const { module, exports } of swapped) module.exports = exports
  }
}
