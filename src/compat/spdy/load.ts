/**
 * Loading spdy on Node 20-26.
 *
 * http-deceiver (a spdy dependency) calls `process.binding('http_parser')` when it
 * is first required. Node 24 removed that binding (the require throws
 * "No such module: http_parser") and Node 20/22 print DEP0111 for it. Node's own
 * `_http_common` module exposes the very same `HTTPParser` and `methods`, so while
 * spdy loads we answer that one binding from there, silently, and put
 * `process.binding` back afterwards.
 */
import { createRequire } from 'node:module'
import type { SpdyModule, SpdyTransportModule } from './internals.js'
import { quietLogger, withQuietDebug } from './quiet-debug.js'
import { withQuietDebuglog } from './quiet-debuglog.js'

const require = createRequire(import.meta.url)

type BindingFn = (name: string) => unknown

export interface LoadedSpdy {
  spdy: SpdyModule
  transport: SpdyTransportModule
  /** `require` rooted at spdy's own folder, to reach its dependencies. */
  requireFromSpdy: NodeRequire
  /** The classes of spdy's stack that allocate with `new Buffer()` (see buffers.ts), as spdy resolves them. */
  legacyBuffers: {
    WriteBuffer: { prototype: Record<string, unknown> }
    OffsetBuffer: { prototype: Record<string, unknown> }
    Deceiver: { prototype: Record<string, unknown> }
  }
  /** A quiet logger (quiet-debug.ts) of spdy-transport's `debug`, for code that stands in for spdy-transport's own. */
  debug(namespace: string): (...args: unknown[]) => void
  /** hpack.js, as spdy-transport resolves it. */
  hpack: {
    decompressor: { prototype: Record<string, unknown> }
    compressor: { prototype: Record<string, unknown> }
    encoder: { create(): unknown }
    /** Each symbol's Huffman code, [length in bits, code] (RFC 7541 Appendix B). */
    huffman: { encode: ReadonlyArray<readonly [number, number]> }
  }
}

let loaded: LoadedSpdy | undefined

export function loadSpdy(): LoadedSpdy {
  if (loaded) return loaded
  loaded = withQuietDebuglog(loadUnderShim)
  return loaded
}

function loadUnderShim(): LoadedSpdy {
  const proc = process as unknown as { binding: BindingFn }
  const originalBinding = proc.binding
  const httpCommon = require('node:_http_common') as { HTTPParser: unknown; methods: string[] }
  proc.binding = function bindingForSpdy(name: string): unknown {
    if (name === 'http_parser') return { HTTPParser: httpCommon.HTTPParser, methods: httpCommon.methods }
    return originalBinding.call(process, name)
  }
  try {
    const spdyPath = require.resolve('spdy')
    const requireFromSpdy = createRequire(spdyPath)
    const transportPath = requireFromSpdy.resolve('spdy-transport')
    const debugPaths = [requireFromSpdy.resolve('debug'), createRequire(transportPath).resolve('debug')]
    return withQuietDebug(debugPaths, () => loadModules(requireFromSpdy))
  } finally {
    proc.binding = originalBinding
  }
}

function loadModules(requireFromSpdy: NodeRequire): LoadedSpdy {
  // http-deceiver first, so that whichever copy spdy resolves is loaded under the shim.
  const Deceiver = requireFromSpdy('http-deceiver') as LoadedSpdy['legacyBuffers']['Deceiver']
  const spdy = requireFromSpdy('spdy') as SpdyModule
  const transport = requireFromSpdy('spdy-transport') as SpdyTransportModule
  const requireFromTransport = createRequire(requireFromSpdy.resolve('spdy-transport'))
  const legacyBuffers = {
    WriteBuffer: requireFromTransport('wbuf'),
    OffsetBuffer: requireFromTransport('obuf'),
    Deceiver,
  } as LoadedSpdy['legacyBuffers']
  const hpack = requireFromTransport('hpack.js') as LoadedSpdy['hpack']
  const createDebug = requireFromTransport('debug') as (namespace: string) => Parameters<typeof quietLogger>[0]
  const debug = (namespace: string) => quietLogger(createDebug(namespace))
  return { spdy, transport, requireFromSpdy, legacyBuffers, hpack, debug }
}
