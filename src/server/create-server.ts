/**
 * createServer: an HTTPS server for an Express app, HTTP/2 through spdy with the
 * compatibility layer (`transport: 'spdy'`) or through node:http2 (`transport: 'http2'`),
 * HTTP/1.1 for clients that ask for it; graceful shutdown.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import type { Server as HttpsServer, ServerOptions } from 'node:https'
import type { Http2SecureServer, Http2ServerRequest, Http2Session } from 'node:http2'
import http2 from 'node:http2'
import { setMaxListeners } from 'node:events'
import type { Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import createDebug from 'debug'
import { H2PushError } from '../errors.js'
import { installSpdyCompat } from '../compat/spdy/index.js'
import type { SpdyConnection, SpdyRequest } from '../compat/spdy/internals.js'
import { expressOverHttp2 } from '../transports/http2/bridge.js'
import { ShapedHttp2Request, ShapedHttp2Response } from '../transports/http2/compat-layer.js'
import { ShapedIncomingMessage, ShapedServerResponse } from '../transports/shaped-messages.js'
import { oneAuthority } from '../transports/authority.js'
import { releaseDeadSessions } from '../transports/http2/dead-sessions.js'
import { loadDevCertificate } from './dev-certificate.js'
import { validateOptions } from '../options/validate.js'
import { dispatchUnlessReset } from './dispatch.js'
import { type H2Limits, limitHttp2Session, nghttp2Limits, type ResolvedH2Limits, resolveLimits } from './limits.js'
import { LIMITS_OPTION } from '../compat/spdy/guarded-connection.js'
import { closeIdleHttp2Session, closeIdleSpdyConnection } from './idle-timeout.js'
import { spdyConnectionOf } from '../compat/spdy/stream-limit.js'
import { spdyWarmedUp, warmUpSpdy, type WarmUpResult } from '../compat/spdy/warm-up.js'

const debug = createDebug('express-h2-push:server')

export type Transport = 'spdy' | 'http2'

export interface CreateServerOptions {
  /** HTTP/2 implementation: `'spdy'` (spdy with the compatibility layer) or `'http2'` (Node's own http2, Express 5). Default `'spdy'`. */
  transport?: Transport
  /** PEM private key. Default: the file named by `TLS_KEY`, else a development key (not in production). */
  key?: string | Buffer
  /** PEM certificate (chain). Default: the file named by `TLS_CERT`, else a development certificate (not in production). */
  cert?: string | Buffer
  /** Folder whose `.cert/` keeps the development certificate. Default `process.cwd()`. */
  certDir?: string
  /** Shut down gracefully on SIGINT/SIGTERM, then exit 0. Default `false` (the demo server turns it on). */
  handleSignals?: boolean
  /** How long `shutdown()` waits for open streams before closing connections, in ms. Default `5000`. */
  shutdownTimeout?: number
  /**
   * SETTINGS_MAX_CONCURRENT_STREAMS: request streams one HTTP/2 connection may have open
   * at once, advertised and enforced on both transports (a stream over it is refused
   * with RST_STREAM(REFUSED_STREAM) and never reaches the app). Default `128` (nginx's;
   * RFC 9113 recommends no less than 100).
   */
  maxConcurrentStreams?: number
  /**
   * How long an HTTP/2 connection with no open request stream stays open, in ms; then
   * the server sends GOAWAY(NO_ERROR) and closes it. `0` or `false`: never. Default
   * `75000` (nginx's `keepalive_timeout`). HTTP/1.1 connections keep Node's `keepAliveTimeout` (5 s).
   */
  idleTimeout?: number | false
  /** TCP keepalive on every accepted socket, so that a peer that vanished is noticed even on a silent held stream. Default `true`. */
  keepAlive?: boolean
  /** Silence before the first keepalive probe, in ms (whole seconds, at least 1000). Default `60000`. */
  keepAliveInitialDelay?: number
  /**
   * Per-connection limits against the HTTP/2 attack families (rapid reset, CONTINUATION,
   * PING/SETTINGS/RST floods, empty frames, HPACK bombs, PRIORITY floods), on both
   * transports; see {@link H2Limits} for each one and its default (close to nghttp2's).
   */
  limits?: Readonly<H2Limits>
  /**
   * spdy only: before `createServer` resolves, run a few HTTP/2 connections through a
   * private spdy server in memory (TLS and all, no port, never your app), so that the
   * first clients do not pay for V8 compiling spdy's JavaScript: a fresh server's first
   * connection then costs about a third of what it did. Takes about 60–80 ms, once per process
   * (later servers skip it). Default `true`.
   */
  warmUp?: boolean
  /** More `https.createServer` options (`connectionsCheckingInterval`, `ciphers`, ...); `key`/`cert` go above. */
  serverOptions?: Readonly<ServerOptions>
}

export interface TlsMaterial {
  key: string | Buffer
  cert: string | Buffer
}

/**
 * The server `createServer` answers: an `https.Server` (spdy's) or an
 * `Http2SecureServer` (node:http2), with a graceful `shutdown()`.
 */
export interface H2PushServer extends HttpsServer {
  readonly transport: Transport
  /** The PEM certificate the server presents. */
  readonly certificate: string
  /** Aborted when `shutdown()` starts: held streams and timers listen to it. */
  readonly shutdownSignal: AbortSignal
  /** Stops accepting, sends GOAWAY, ends held streams, waits (up to `shutdownTimeout`), closes what is left. */
  shutdown(): Promise<void>
}

const DEFAULTS = {
  transport: 'spdy',
  handleSignals: false,
  shutdownTimeout: 5000,
  maxConcurrentStreams: 128,
  idleTimeout: 75_000,
  keepAlive: true,
  keepAliveInitialDelay: 60_000,
  warmUp: true,
} as const

/** The longest delay a Node timer takes (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1

const OPTION_TYPES = {
  transport: ['spdy', 'http2'],
  key: 'pem',
  cert: 'pem',
  certDir: 'string',
  handleSignals: 'boolean',
  shutdownTimeout: 'non-negative number',
  serverOptions: 'object',
  maxConcurrentStreams: { min: 1, max: 2 ** 32 - 1, integer: true },
  idleTimeout: { min: 0, max: MAX_TIMER_MS, unit: 'ms', orFalse: true },
  keepAlive: 'boolean',
  keepAliveInitialDelay: { min: 1000, max: MAX_TIMER_MS, unit: 'ms' },
  limits: 'object',
  warmUp: 'boolean',
} as const

/**
 * Resolves the TLS key and certificate: the options, else the `TLS_KEY`/`TLS_CERT`
 * files, else (outside production) a development certificate for localhost.
 */
export async function resolveTls(options: Readonly<Pick<CreateServerOptions, 'key' | 'cert' | 'certDir'>> = {}): Promise<TlsMaterial> {
  if (options.key !== undefined && options.cert !== undefined) return { key: options.key, cert: options.cert }
  if (options.key !== undefined || options.cert !== undefined) {
    throw new H2PushError('ERR_H2PUSH_TLS_MISSING', 'createServer: `key` and `cert` go together; pass both PEM values, or neither to use TLS_KEY/TLS_CERT')
  }
  const keyFile = process.env['TLS_KEY']
  const certFile = process.env['TLS_CERT']
  if (keyFile || certFile) {
    if (!keyFile || !certFile) {
      throw new H2PushError(
        'ERR_H2PUSH_TLS_MISSING',
        `createServer: TLS_KEY and TLS_CERT go together (got only ${keyFile ? 'TLS_KEY' : 'TLS_CERT'}); set both to PEM file paths`,
      )
    }
    try {
      return { key: readFileSync(keyFile), cert: readFileSync(certFile) }
    } catch (err) {
      throw new H2PushError('ERR_H2PUSH_TLS_MISSING', `createServer: cannot read TLS_KEY=${keyFile} / TLS_CERT=${certFile}: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }
  if (process.env['NODE_ENV'] === 'production') {
    throw new H2PushError(
      'ERR_H2PUSH_TLS_MISSING',
      'createServer: no TLS certificate in production. Set TLS_CERT and TLS_KEY to the paths of your PEM ' +
        'certificate and key, or pass { key, cert } to createServer (a development certificate is only made when NODE_ENV is not "production")',
    )
  }
  const dev = await loadDevCertificate(options.certDir)
  debug('%s development certificate %s', dev.generated ? 'generated' : 'reusing', dev.path)
  return { key: dev.key, cert: dev.cert }
}

/**
 * Creates an HTTPS server for `app` that speaks HTTP/2 (spdy, with the compatibility
 * layer installed) and HTTP/1.1. Call `.listen()` on it as on any `https.Server`.
 *
 * @param app An Express app (or any request listener).
 * @param options See {@link CreateServerOptions}.
 * @example
 * ```ts
 * const server = await createServer(app, { handleSignals: true })
 * server.listen(8443, () => console.log('https://localhost:8443'))
 * ```
 */
export async function createServer(app: RequestListener, options: Readonly<CreateServerOptions> = {}): Promise<H2PushServer> {
  if (typeof app !== 'function') {
    throw new H2PushError('ERR_H2PUSH_INVALID_OPTION', `createServer: expected an Express app or request listener as the first argument, got ${typeof app}`)
  }
  validateOptions('createServer', options, OPTION_TYPES)
  const settings = { ...DEFAULTS, ...options, limits: resolveLimits(options.limits) }
  const tls = await resolveTls(settings)
  const { server, goaway, warmUp } = settings.transport === 'http2' ? http2Server(app, tls, settings) : spdyServer(app, tls, settings)
  if (settings.warmUp && warmUp) await runWarmUp(warmUp)
  if (settings.keepAlive) {
    const delay = settings.keepAliveInitialDelay
    server.on('connection', (socket: Socket) => socket.setKeepAlive(true, delay))
  }
  // No Nagle delay: a PUSH_PROMISE or HEADERS frame is small and goes out at once, not
  // after the ACK of what went before it (Go and nghttp2's servers set TCP_NODELAY too).
  server.on('connection', (socket: Socket) => socket.setNoDelay(true))
  const controller = new AbortController()
  // Every held stream may listen: no MaxListenersExceededWarning past 10 of them.
  setMaxListeners(0, controller.signal)
  signals.set(server, controller.signal)
  server.on('session', (session: Http2Session) => signals.set(session, controller.signal))

  const sockets = new Set<Socket>()
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  let closing: Promise<void> | undefined
  const shutdown = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      debug('shutdown: %d sockets', sockets.size)
      controller.abort()
      let done = false
      const finish = (): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        for (const socket of sockets) socket.destroy()
        resolve()
      }
      const timer = setTimeout(finish, settings.shutdownTimeout)
      server.close(() => finish())
      ;(server as { closeIdleConnections?: () => void }).closeIdleConnections?.()
      const finishing = goaway()
      // TLS connections with nothing to finish: idle HTTP/1.1, HTTP/2 connections without a request.
      for (const socket of sockets) if (!finishing(socket)) socket.end()
    })
    return closing
  }

  Object.defineProperties(server, {
    transport: { value: settings.transport, enumerable: true },
    certificate: { value: tls.cert.toString(), enumerable: true },
    shutdownSignal: { value: controller.signal, enumerable: true },
    shutdown: { value: shutdown },
  })

  if (settings.handleSignals) {
    const onSignal = (signal: NodeJS.Signals): void => {
      debug('%s: shutting down', signal)
      void shutdown().then(() => process.exit(0))
    }
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    server.once('close', () => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    })
  }
  return server
}

/** Runs the transport's warm-up (spdy: warm-up.ts, which never throws), logging how it went. */
async function runWarmUp(warmUp: () => Promise<WarmUpResult | undefined>): Promise<void> {
  const result = await warmUp()
  if (!result) {
    debug('warm-up: skipped, this process has warmed spdy up already')
    return
  }
  debug(
    'warm-up: %d of %d requests answered, %d hints, %d pushed, in %d ms%s',
    result.answered,
    result.requests,
    result.hints,
    result.pushed,
    Math.round(result.ms),
    result.error ? `; ${result.error}` : '',
  )
}

/** Shutdown signals by server, and by HTTP/2 session for node:http2. */
const signals = new WeakMap<object, AbortSignal>()

/**
 * The shutdown signal of the server that received `req` (aborted when its graceful
 * shutdown starts), or `undefined` when the server was not made by `createServer`.
 * Routes that hold a stream open end it on this signal.
 */
export function getShutdownSignal(req: IncomingMessage | Http2ServerRequest): AbortSignal | undefined {
  const session = (req as Http2ServerRequest).stream?.session
  if (session) return signals.get(session)
  const server = (req.socket as (Socket & { server?: object }) | null)?.server
  return server ? signals.get(server) : undefined
}

/** What the transports take from the options. */
interface TransportSettings {
  serverOptions?: Readonly<ServerOptions> | undefined
  maxConcurrentStreams: number
  idleTimeout: number | false
  limits: ResolvedH2Limits
}

interface TransportServer {
  server: H2PushServer
  /** Sends GOAWAY on every HTTP/2 connection; answers which TLS sockets now finish by themselves. */
  goaway(): (socket: Socket) => boolean
  /** Warms the transport's JavaScript up before the first client (spdy: warm-up.ts). */
  warmUp?: () => Promise<WarmUpResult | undefined>
}

function http2StreamGone(req: IncomingMessage): boolean | null {
  const stream = (req as unknown as { stream?: { destroyed: boolean } }).stream
  return req.httpVersionMajor === 2 && stream !== undefined ? stream.destroyed : null
}

/** The warm-up's size: two connections of twelve requests, a page's worth each. */
const WARM_UP = { connections: 2, requests: 12 }
/** The pseudo-headers of a warm-up request, counted in a header list's fields. */
const PSEUDO_HEADERS = 4

function spdyServer(app: RequestListener, tls: TlsMaterial, settings: TransportSettings): TransportServer {
  const spdy = installSpdyCompat()
  const shared = {
    minVersion: 'TLSv1.2',
    IncomingMessage: ShapedIncomingMessage,
    ServerResponse: ShapedServerResponse,
  } as const
  const own = {
    key: tls.key,
    cert: tls.cert,
    // maxStreams: advertised by spdy-transport, enforced by the compatibility layer.
    spdy: {
      protocols: ['h2', 'http/1.1'],
      'x-forwarded-for': false,
      connection: { maxStreams: settings.maxConcurrentStreams, [LIMITS_OPTION]: settings.limits },
    },
  }
  const options = { ...shared, ...settings.serverOptions, ...own } as ServerOptions
  // The warm-up's private server: the same TLS, ALPN, limits and request classes, but none of the
  // rest of serverOptions (an SNICallback or a client-certificate check is for real clients).
  const passphrase = settings.serverOptions?.passphrase
  const warmUpOptions = { ...shared, ...own, ...(passphrase === undefined ? {} : { passphrase }) } as unknown as ServerOptions
  const server = spdy.createServer(
    options,
    // Deferred past their read by the compatibility layer (deferred-streams.ts).
    function spdyRequestListener(req: IncomingMessage, res: ServerResponse) {
      // spdy turns :authority into Host, then lets a Host header overwrite it: compare what the client sent.
      const stream = (req as SpdyRequest).spdyStream
      if (stream && !oneAuthority(stream.headers[':authority'], req.headers, res)) return
      app(req, res)
    },
  ) as H2PushServer
  const idleTimeout = settings.idleTimeout
  if (idleTimeout) {
    // spdy's own 'secureConnection' listener ran first and made the HTTP/2 connection.
    server.on('secureConnection', (socket: Socket) => {
      const connection = spdyConnectionOf(socket)
      if (connection) closeIdleSpdyConnection(connection, idleTimeout)
    })
  }
  const connections = new Set<SpdyConnection>()
  server.prependListener('request', (req: IncomingMessage) => {
    const connection = (req as SpdyRequest).spdyStream?.connection
    if (connection && !connections.has(connection)) {
      connections.add(connection)
      connection.once('close', () => connections.delete(connection))
    }
  })
  return {
    server,
    // Once per process: V8's compiled code serves every later server. Within the server's limits.
    warmUp: async () =>
      spdyWarmedUp()
        ? undefined
        : warmUpSpdy((o, listener) => spdy.createServer(o, listener) as HttpsServer, warmUpOptions, {
            ...WARM_UP,
            concurrency: Math.min(WARM_UP.requests, settings.maxConcurrentStreams),
            fields: settings.limits.maxHeaderListPairs - PSEUDO_HEADERS,
          }),
    goaway() {
      const busy = new Set<Socket>()
      for (const connection of connections) {
        const state = connection._spdyState
        if (state.goaway === false) connection._goaway({ lastId: state.stream.lastId.received, code: 'OK', send: true })
        busy.add(connection.socket as Socket)
      }
      return (socket) => busy.has(socket)
    },
  }
}

function http2Server(app: RequestListener, tls: TlsMaterial, settings: TransportSettings): TransportServer {
  const serverOptions = settings.serverOptions as { settings?: http2.Settings } | undefined
  const server = http2.createSecureServer(
    {
      minVersion: 'TLSv1.2',
      Http2ServerRequest: ShapedHttp2Request as unknown as typeof http2.Http2ServerRequest,
      Http2ServerResponse: ShapedHttp2Response as unknown as typeof http2.Http2ServerResponse,
      Http1IncomingMessage: ShapedIncomingMessage,
      Http1ServerResponse: ShapedServerResponse as unknown as typeof ServerResponse,
      ...serverOptions,
      key: tls.key,
      cert: tls.cert,
      allowHTTP1: true,
      ...nghttp2Limits(settings.limits),
      // nghttp2 refuses (REFUSED_STREAM) a stream over it before our SETTINGS are acknowledged, and ends the connection after.
      settings: { maxHeaderListSize: settings.limits.maxHeaderListSize, ...serverOptions?.settings, maxConcurrentStreams: settings.maxConcurrentStreams },
    },
    dispatchUnlessReset(expressOverHttp2(app) as unknown as RequestListener, http2StreamGone) as never,
  ) as Http2SecureServer as unknown as H2PushServer
  const idleTimeout = settings.idleTimeout
  const sessions = new Set<Http2Session>()
  // Sessions nghttp2 ended with a GOAWAY of its own (a header field over 64 KB: COMPRESSION_ERROR), which Node 20 never reports.
  releaseDeadSessions(server as unknown as Http2SecureServer)
  server.on('session', (session: Http2Session) => {
    if (idleTimeout) closeIdleHttp2Session(session, idleTimeout)
    limitHttp2Session(session, settings.limits)
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
    session.on('error', (err: Error) => debug('session error: %s', err.message))
    // A peer that went away with an error sends nothing more: do not wait for its socket.
    session.on('goaway', (code: number) => {
      if (code !== http2.constants.NGHTTP2_NO_ERROR) session.destroy()
    })
  })
  return {
    server,
    goaway() {
      for (const session of sessions) {
        // GOAWAY with the last stream this session processed, then close once its streams end.
        if (!session.closed && !session.destroyed) session.goaway(http2.constants.NGHTTP2_NO_ERROR)
        session.close()
      }
      // Every HTTP/2 connection has a session here, closed above.
      return (socket) => (socket as Socket & { alpnProtocol?: string | false }).alpnProtocol === 'h2'
    },
  }
}
