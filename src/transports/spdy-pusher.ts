/**
 * The Pusher for responses served by spdy (HTTP/2 over spdy-transport).
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { H2PushError } from '../errors.js'
import { writableEnded, writableFinished, type SpdyRequest, type SpdyResponse, type SpdyStream } from '../compat/spdy/internals.js'
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

/** Whether the peer accepts push on this spdy stream's connection right now. */
export function spdyPeerAcceptsPush(stream: SpdyStream): boolean | null {
  return stream.connection._spdyState.framer.pushEnabled
}

function parentIsOpen(stream: SpdyStream): boolean {
  const connection = stream.connection
  return (
    !stream._spdyState.aborted &&
    !writableEnded(stream) &&
    connection._spdyState.goaway === false
  )
}


class SpdyPushStream implements PushStream {
  readonly id: number
  readonly path: string
  readonly #stream: SpdyStream
  #bytes = 0
  #responded = false

  get responded(): boolean {
    return this.#responded
  }
  #outcome: Promise<PushOutcome>

  constructor(stream: SpdyStream, path: string, parent: SpdyStream, timeout: number, keepAfterParent: boolean) {
    this.#stream = stream
    // No frame for `timeout` ms (flow control stuck, client gone quiet): reset, release the body.
    stream.setTimeout(timeout, () => this.cancel())
    this.id = stream.id
    this.path = path
    // A promise nobody answers must not hold the connection: once the parent
    // stream closes, an unanswered push is reset.
    if (!keepAfterParent) {
      const watch = cancelWhenParentCloses(parent, this)
      stream.once('close', () => watch.settled())
    }
    this.#outcome = new Promise((resolve) => {
      let reason: string | undefined
      stream.on('error', (err: Error) => {
        reason ??= err.message
      })
      stream.once('close', (err?: Error) => {
        const sent = writableFinished(stream) && !stream._spdyState.aborted && err === undefined
        if (sent) resolve({ status: 'sent', bytes: this.#bytes })
        else resolve({ status: 'cancelled', bytes: this.#bytes, reason: reason ?? err?.message ?? 'stream closed' })
      })
    })
  }

  respond(status: number, headers: OutgoingHttpHeaders, body?: PushBody): Promise<PushOutcome> {
    const stream = this.#stream
    if (stream._spdyState.aborted || writableEnded(stream)) return this.#outcome
    this.#responded = true
    stream.respond(status, headers)
    writePushBody(stream, body, (bytes) => {
      this.#bytes += bytes
    })
    return this.#outcome
  }

  cancel(): void {
    this.#stream.abort('CANCEL')
  }
}

class SpdyPusher implements Pusher {
  readonly #res: SpdyResponse
  readonly #stream: SpdyStream

  constructor(res: SpdyResponse, stream: SpdyStream) {
    this.#res = res
    this.#stream = stream
  }

  remoteWindow(): number {
    return Math.max(0, this.#stream.connection._spdyState.window.send.getCurrent())
  }

  get connection(): object {
    return this.#stream.connection
  }

  push(path: string, options?: PushOptions): Promise<PushStream> {
    const req = this.#res.req as SpdyRequest
    let requestHeaders
    try {
      requestHeaders = pushRequestHeaders(path, req.headers, options)
    } catch (err) {
      return Promise.reject(err)
    }
    const parent = this.#stream
    if (spdyPeerAcceptsPush(parent) !== true) {
      return Promise.reject(
        new H2PushError('ERR_H2PUSH_PUSH_DISABLED', `push ${path}: the client does not accept server push`),
      )
    }
    if (!parentIsOpen(parent)) {
      return Promise.reject(
        new H2PushError('ERR_H2PUSH_STREAM_CLOSED', `push ${path}: the parent stream or its connection is closing`),
      )
    }
    return new Promise<PushStream>((resolve, reject) => {
      const promised = parent.pushPromise(
        {
          path,
          method: 'GET',
          status: 200,
          host: req.headers.host ?? parent.headers[':authority']?.toString() ?? '',
          headers: requestHeaders,
          // PUSH_PROMISE only: the response HEADERS go out with respond().
          response: false,
        },
        (err, stream) => {
          if (err) {
            reject(new H2PushError('ERR_H2PUSH_PUSH_FAILED', `push ${path}: ${err.message}`, { cause: err }))
            return
          }
          resolve(new SpdyPushStream(stream ?? promised, path, parent, options?.timeout ?? DEFAULT_PUSH_TIMEOUT, options?.keepAfterParent === true))
        },
      ) as SpdyStream | undefined
    })
  }
}

function spdyPusherFor(res: ServerResponse): Pusher | undefined {
  const spdyRes = res as SpdyResponse
  const stream = spdyRes.spdyStream
  if (!stream || typeof stream.pushPromise !== 'function') return undefined
  if (spdyPeerAcceptsPush(stream) !== true || !parentIsOpen(stream)) return undefined
  return new SpdyPusher(spdyRes, stream)
}

registerPusherFactory(spdyPusherFor)
