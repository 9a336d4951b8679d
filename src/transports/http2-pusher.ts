/**
 * The Pusher for responses served by Node's http2 (`Http2ServerResponse`).
 */
import type { Http2ServerResponse, ServerHttp2Stream, OutgoingHttpHeaders } from 'node:http2'
import { isNodeHttp2Response } from './http2/bridge.js'
import type { ServerResponse } from 'node:http'
import { H2PushError } from '../errors.js'
import {
  cancelWhenParentCloses,
  DEFAULT_PUSH_TIMEOUT,
  pushRequestHeaders,
  registerPusherFactory,
  writePushBody,
  type PushBody,
  type PushOptions,
  type PushOutcome,
  type Pusher,
  type PushStream,
} from './pusher.js'

const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host'])

function streamIsOpen(stream: ServerHttp2Stream): boolean {
  const session = stream.session
  return session !== undefined && !session.closed && !session.destroyed && !stream.closed && !stream.destroyed && !stream.writableEnded
}

function canPushOn(stream: ServerHttp2Stream): boolean {
  return streamIsOpen(stream) && stream.session!.remoteSettings.enablePush === true && stream.pushAllowed
}

class Http2PushStream implements PushStream {
  readonly id: number
  readonly path: string
  readonly #stream: ServerHttp2Stream
  #bytes = 0
  #responded = false

  get responded(): boolean {
    return this.#responded
  }
  readonly #outcome: Promise<PushOutcome>

  constructor(stream: ServerHttp2Stream, path: string, parent: ServerHttp2Stream, timeout: number, keepAfterParent: boolean) {
    this.#stream = stream
    // No activity for `timeout` ms (flow control stuck, client gone quiet): reset, release the body.
    stream.setTimeout(timeout, () => this.cancel())
    this.id = stream.id ?? 0
    this.path = path
    let reason: string | undefined
    stream.on('error', (err: Error) => {
      reason ??= err.message
    })
    this.#outcome = new Promise((resolve) => {
      stream.once('close', () => {
        if (stream.rstCode === 0 && stream.writableFinished) resolve({ status: 'sent', bytes: this.#bytes })
        else resolve({ status: 'cancelled', bytes: this.#bytes, reason: reason ?? `RST_STREAM code ${stream.rstCode ?? 'none'}` })
      })
    })
    if (!keepAfterParent) {
      const watch = cancelWhenParentCloses(parent, this)
      stream.once('close', () => watch.settled())
    }
  }

  respond(status: number, headers: OutgoingHttpHeaders, body?: PushBody): Promise<PushOutcome> {
    const stream = this.#stream
    if (stream.closed || stream.destroyed || this.#responded) return this.#outcome
    this.#responded = true
    const out: OutgoingHttpHeaders = { ':status': status }
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase()
      if (value !== undefined && !CONNECTION_HEADERS.has(lower)) out[lower] = value
    }
    try {
      stream.respond(out)
    } catch (err) {
      stream.destroy(err as Error)
      return this.#outcome
    }
    writePushBody(stream, body, (bytes) => {
      this.#bytes += bytes
    })
    return this.#outcome
  }

  cancel(): void {
    const stream = this.#stream
    if (stream.destroyed) return
    // RST_STREAM CANCEL, then destroy: close() alone leaves a stream never responded to
    // half-open in Node (it waits for an end that needs HEADERS), and when that happens
    // after the parent's response, the session stops reading its socket and outlives the peer.
    if (!stream.closed) stream.close(0x8)
    stream.destroy()
  }
}

class Http2Pusher implements Pusher {
  readonly #res: Http2ServerResponse
  readonly #stream: ServerHttp2Stream

  constructor(res: Http2ServerResponse, stream: ServerHttp2Stream) {
    this.#res = res
    this.#stream = stream
  }

  remoteWindow(): number {
    return Math.max(0, this.#stream.session?.state.remoteWindowSize ?? 0)
  }

  get connection(): object {
    return this.#stream.session ?? this.#stream
  }

  push(path: string, options?: PushOptions): Promise<PushStream> {
    let requestHeaders
    try {
      requestHeaders = pushRequestHeaders(path, this.#res.req.headers, options)
    } catch (err) {
      return Promise.reject(err)
    }
    const parent = this.#stream
    if (!streamIsOpen(parent)) {
      return Promise.reject(new H2PushError('ERR_H2PUSH_STREAM_CLOSED', `push ${path}: the parent stream or its connection is closing`))
    }
    if (!canPushOn(parent)) {
      return Promise.reject(new H2PushError('ERR_H2PUSH_PUSH_DISABLED', `push ${path}: the client does not accept server push`))
    }
    const authority = this.#res.req.headers[':authority'] ?? this.#res.req.headers.host
    return new Promise<PushStream>((resolve, reject) => {
      try {
        parent.pushStream(
          { ...requestHeaders, ':method': 'GET', ':path': path, ...(authority ? { ':authority': String(authority) } : {}) },
          (err, pushStream) => {
            if (err) {
              reject(new H2PushError('ERR_H2PUSH_PUSH_FAILED', `push ${path}: ${err.message}`, { cause: err }))
              return
            }
            pushStream.on('error', () => {})
            resolve(new Http2PushStream(pushStream, path, parent, options?.timeout ?? DEFAULT_PUSH_TIMEOUT, options?.keepAfterParent === true))
          },
        )
      } catch (err) {
        reject(new H2PushError('ERR_H2PUSH_PUSH_FAILED', `push ${path}: ${(err as Error).message}`, { cause: err }))
      }
    })
  }
}

function http2PusherFor(res: ServerResponse): Pusher | undefined {
  if (!isNodeHttp2Response(res)) return undefined
  const stream = res.stream
  if (!stream || !canPushOn(stream)) return undefined
  return new Http2Pusher(res, stream)
}

registerPusherFactory(http2PusherFor as (res: ServerResponse) => Pusher | undefined)
