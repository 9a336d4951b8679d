/**
 * `express-h2-push inspect <url>`: one HTTP/2 request with Node's http2 client, and
 * every event of the exchange on its own line with a time offset: request HEADERS,
 * 103s, response HEADERS, PUSH_PROMISEs, pushed HEADERS/DATA, END_STREAM,
 * RST_STREAM, GOAWAY; then a summary. Held streams are kept for `duration`.
 */
import http2, { type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2'
import { H2PushError } from '../errors.js'
import { DEFAULT_INHERITED_HEADERS } from '../push/inherited-headers.js'

/** The longest `--duration`: Node's timers hold at most 2^31 - 1 ms (about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1

export interface InspectOptions {
  /** Send SETTINGS_ENABLE_PUSH = 0, as browsers do. */
  noPush: boolean
  /** How long the exchange may last before held-open streams are reset, in ms: 1 to MAX_DURATION_MS. */
  durationMs: number
  /** One JSON object per line. */
  json: boolean
  /** Accept a certificate that is not trusted (self-signed). */
  insecure: boolean
}

export interface InspectSummary {
  status: number | undefined
  ttfbMs: number | undefined
  earlyHints: number
  pushesPromised: number
  pushesCompleted: number
  pushedBytes: number
  responseBytes: number
  resets: number
}

type Event = Record<string, unknown> & { event: string }

/** RFC 9113 §7 error codes. */
const RST_NAMES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
]

function durationError(flag: string, problem: string): H2PushError {
  return new H2PushError(
    'ERR_H2PUSH_INVALID_OPTION',
    `--duration ${flag}: ${problem}; it is how long the exchange may last before held streams are reset, from 1ms to ${MAX_DURATION_MS}ms (about 24.8 days), e.g. 500ms, 12s, 2m`,
  )
}

/**
 * `--duration`: "12s", "500ms", "2m" or plain seconds → ms. Throws ERR_H2PUSH_INVALID_OPTION
 * for anything else, for 0 (nothing would be inspected: the exchange would end before the
 * request is sent) and for more than MAX_DURATION_MS.
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (!m) throw new H2PushError('ERR_H2PUSH_INVALID_OPTION', `--duration ${JSON.stringify(text)}: use a number with ms, s or m (12s, 500ms)`)
  const value = Number(m[1])
  const ms = Math.round(m[2] === 'ms' ? value : m[2] === 'm' ? value * 60_000 : value * 1000)
  checkDuration(ms, text)
  return ms
}

function checkDuration(ms: number, text: string = `${ms}ms`): void {
  if (!Number.isFinite(ms) || ms < 1) throw durationError(text, 'must be at least 1ms (0 would end the exchange before the request is sent)')
  if (ms > MAX_DURATION_MS) throw durationError(text, `${ms} ms is past the longest timer Node has`)
}

/** Why a URL cannot be inspected, or undefined when it can. */
export function checkUrl(raw: string): { url: URL } | { error: string } {
  // `localhost:8443`, `127.0.0.1:8443/push`, `example.com`: a host without a scheme.
  const bare = /^(?![a-z][a-z0-9+.-]*:\/\/)(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d+)?(\/.*)?$/i.exec(raw)
  if (bare && (bare[2] !== undefined || bare[1]!.includes('.') || /^localhost$/i.test(bare[1]!))) {
    return { error: `${JSON.stringify(raw)} has no scheme: did you mean https://${raw}? (inspect speaks HTTP/2 over TLS)` }
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { error: `not a URL: ${JSON.stringify(raw)} (write it as https://host:port/path)` }
  }
  if (url.protocol === 'http:') return { error: `${raw} is not TLS: inspect speaks HTTP/2 over TLS only; use https://` }
  if (url.protocol !== 'https:') return { error: `${raw}: unsupported scheme ${url.protocol} (use https://)` }
  return { url }
}

/** Security headers every response carries: counted, not printed, in text mode (--json has them all). */
const QUIET_HEADERS: ReadonlySet<string> = new Set(DEFAULT_INHERITED_HEADERS)

function headerLine(headers: IncomingHttpHeaders): string {
  const entries = Object.entries(headers).filter(([name]) => name !== ':status')
  const quiet = entries.filter(([name]) => QUIET_HEADERS.has(name)).length
  const shown = entries
    .filter(([name]) => !QUIET_HEADERS.has(name))
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`)
  if (quiet > 0) shown.push(`(+${quiet} security headers)`)
  return shown.join(' | ')
}

function explainConnectError(err: NodeJS.ErrnoException, url: URL): string {
  const where = `${url.hostname}:${url.port || 443}`
  switch (err.code) {
    case 'ECONNREFUSED':
      return `cannot connect to ${where}: connection refused (is the server running?)`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${url.hostname}`
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'CERT_HAS_EXPIRED':
      return `the certificate of ${where} is not trusted (${err.code}); for a development certificate add --insecure (-k)`
    case 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL':
      return `${where} does not speak HTTP/2 (it refused ALPN "h2"); it serves HTTP/1.1 only`
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'EPROTO':
      return `${where} does not speak TLS here (${err.code}); is it a plain http:// server?`
    default:
      return `${where}: ${err.message}`
  }
}

/**
 * Runs the inspection, writing lines with `print`. Resolves to the exit code: 0 when a
 * response arrived, 1 when the exchange failed (with one line saying why, through
 * `printError` in text mode; by default `print` with an `error: ` prefix).
 */
export function inspect(
  url: URL,
  options: InspectOptions,
  print: (line: string) => void,
  printError: (message: string) => void = (message) => print(`error: ${message}`),
): Promise<{ code: number; summary: InspectSummary }> {
  checkDuration(options.durationMs)
  const start = process.hrtime.bigint()
  const offset = (): number => Number(process.hrtime.bigint() - start) / 1e6
  const summary: InspectSummary = {
    status: undefined,
    ttfbMs: undefined,
    earlyHints: 0,
    pushesPromised: 0,
    pushesCompleted: 0,
    pushedBytes: 0,
    responseBytes: 0,
    resets: 0,
  }
  const emit = (event: Event, text: string): void => {
    const t = offset()
    print(options.json ? JSON.stringify({ t: Number((t / 1000).toFixed(4)), ...event }) : `[${(t / 1000).toFixed(3).padStart(7)}] ${text}`)
  }

  return new Promise((resolve) => {
    let finished = false
    let failure: string | undefined
    const open = new Map<ClientHttp2Stream, () => number>()
    const session = http2.connect(url, {
      rejectUnauthorized: !options.insecure,
      settings: { enablePush: !options.noPush },
    })
    const timer = setTimeout(() => {
      if (summary.status === undefined) failure ??= `no response within --duration (${options.durationMs} ms)`
      finish()
    }, options.durationMs)

    const finish = (): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      for (const [stream, id] of open) {
        if (stream.closed) continue
        emit({ event: 'rst_stream_sent', stream: id(), code: 'CANCEL' }, `→ RST_STREAM stream ${id()} CANCEL (end of --duration)`)
        stream.close(http2.constants.NGHTTP2_CANCEL)
      }
      session.close()
      session.once('close', report)
      setTimeout(() => session.destroy(), 500).unref()
    }
    const report = (): void => {
      if (failure !== undefined) {
        if (options.json) print(JSON.stringify({ event: 'error', message: failure }))
        else printError(failure)
        resolve({ code: 1, summary })
        return
      }
      const line =
        `summary: status ${summary.status ?? '-'}, time to first byte ${summary.ttfbMs === undefined ? '-' : summary.ttfbMs.toFixed(1) + ' ms'}, ` +
        `${summary.earlyHints} early hints, ${summary.pushesPromised} pushes promised, ${summary.pushesCompleted} completed, ` +
        `${summary.pushedBytes} bytes pushed, ${summary.responseBytes} response bytes, ${summary.resets} resets`
      print(options.json ? JSON.stringify({ event: 'summary', ...summary }) : line)
      resolve({ code: summary.status === undefined ? 1 : 0, summary })
    }
    const maybeDone = (): void => {
      if (open.size === 0) finish()
    }
    const track = (stream: ClientHttp2Stream, id: () => number): void => {
      open.set(stream, id)
      stream.on('end', () => {
        if (!finished) emit({ event: 'end_stream', stream: id() }, `← END_STREAM stream ${id()}`)
      })
      stream.on('error', () => {})
      stream.on('close', () => {
        const code = stream.rstCode ?? 0
        if (code !== 0 && !finished) {
          summary.resets++
          emit({ event: 'rst_stream', stream: id(), code: RST_NAMES[code] ?? code }, `↔ RST_STREAM stream ${id()} ${RST_NAMES[code] ?? code}`)
        }
        open.delete(stream)
        maybeDone()
      })
    }

    session.on('error', (err: NodeJS.ErrnoException) => {
      failure ??= explainConnectError(err, url)
      finish()
    })
    session.on('goaway', (code: number, lastStreamID: number) => {
      emit({ event: 'goaway', code: RST_NAMES[code] ?? code, lastStreamId: lastStreamID }, `← GOAWAY ${RST_NAMES[code] ?? code}, last stream ${lastStreamID}`)
    })
    session.on('connect', () => {
      // The deadline passed while connecting: the session is closing, send nothing.
      if (finished) return
      const socket = session.socket as unknown as { alpnProtocol?: string | false }
      if (socket.alpnProtocol !== 'h2') {
        failure = `${url.host} does not speak HTTP/2 (ALPN: ${socket.alpnProtocol || 'none'}); it serves HTTP/1.1 only`
        finish()
        return
      }
      const request = session.request({ ':path': `${url.pathname}${url.search}`, ':method': 'GET' })
      const id = (): number => request.id ?? 1
      emit({ event: 'request', stream: id(), method: 'GET', path: `${url.pathname}${url.search}` }, `→ HEADERS stream ${id()} GET ${url.pathname}${url.search}`)
      track(request, id)
      request.on('headers', (headers) => {
        summary.earlyHints += headers[':status'] === 103 ? 1 : 0
        emit({ event: 'informational', stream: id(), status: headers[':status'], headers }, `← ${headers[':status']} stream ${id()} ${headerLine(headers)}`)
      })
      request.on('response', (headers) => {
        summary.status = Number(headers[':status'])
        summary.ttfbMs = offset()
        emit({ event: 'headers', stream: id(), status: summary.status, headers }, `← HEADERS stream ${id()} ${summary.status} ${headerLine(headers)}`)
      })
      request.on('data', (chunk: Buffer) => {
        summary.responseBytes += chunk.length
        emit({ event: 'data', stream: id(), bytes: chunk.length }, `← DATA stream ${id()} ${chunk.length} bytes`)
      })
    })
    session.on('stream', (pushed: ClientHttp2Stream, requestHeaders: IncomingHttpHeaders) => {
      summary.pushesPromised++
      const id = (): number => pushed.id ?? 0
      emit(
        { event: 'push_promise', promised: id(), path: requestHeaders[':path'] },
        `← PUSH_PROMISE promised stream ${id()} ${String(requestHeaders[':path'])} (on the request stream)`,
      )
      track(pushed, id)
      pushed.on('push', (headers: IncomingHttpHeaders) => {
        emit(
          { event: 'push_headers', stream: id(), status: headers[':status'], headers },
          `← HEADERS stream ${id()} (pushed) ${headers[':status']} ${headerLine(headers)}`,
        )
      })
      pushed.on('data', (chunk: Buffer) => {
        summary.pushedBytes += chunk.length
        emit({ event: 'push_data', stream: id(), bytes: chunk.length }, `← DATA stream ${id()} (pushed) ${chunk.length} bytes`)
      })
      pushed.on('close', () => {
        if ((pushed.rstCode ?? 0) === 0) summary.pushesCompleted++
      })
    })
  })
}
