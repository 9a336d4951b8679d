/**
 * The one Pusher and PushStream, over a transport adapter: the checks (in one order, one
 * error code per case), the promise, the pushed response (connection headers stripped,
 * answered once), its timeout, its outcome and its release when the parent goes are
 * written here once; an adapter (spdy/push-adapter.ts, http2/push-adapter.ts) only says how its
 * transport does each step.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { Duplex } from 'node:stream'
import { H2PushError } from '../errors.js'
import {
  cancelWhenParentCloses,
  DEFAULT_PUSH_TIMEOUT,
  pushRequestHeaders,
  respondInTurn,
  writePushBody,
  type PushBody,
  type PushOptions,
  type PushOutcome,
  type Pusher,
  type PushStream,
} from './pusher.js'

/** A pushed stream as both transports have it: a Duplex with an inactivity timeout. */
export interface PushedStream extends Duplex {
  setTimeout(ms: number, callback: () => void): unknown
}

/** The parent stream: what a promise rides on. Its 'close' releases unanswered pushes. */
export interface ParentStream {
  once(event: 'close', listener: () => void): unknown
}

/** How one transport does each step of a push. */
export interface PushTransport<Parent extends ParentStream, Pushed extends PushedStream> {
  /** The parent can carry a promise: open, not ended, its connection not going away. */
  parentOpen(parent: Parent): boolean
  /** The peer accepts push on the parent's connection right now (its SETTINGS_ENABLE_PUSH). */
  peerAcceptsPush(parent: Parent): boolean
  remoteWindow(parent: Parent): number
  connection(parent: Parent): object
  /** Submits the PUSH_PROMISE, ahead of anything the parent sends later; calls back once it is queued. */
  promise(
    parent: Parent,
    request: { path: string; authority: string; headers: IncomingHttpHeaders },
    callback: (err: Error | null, pushed?: Pushed) => void,
  ): void
  /** The pushed response's HEADERS (names lower case, no connection headers). */
  respond(pushed: Pushed, status: number, headers: OutgoingHttpHeaders): void
  /** RST_STREAM(CANCEL), and the stream released. */
  cancel(pushed: Pushed): void
  /** Nothing more can be sent on it: ended, reset or destroyed. */
  closed(pushed: Pushed): boolean
  /** At its 'close': whether the whole response went out with END_STREAM. */
  sent(pushed: Pushed, closeError: Error | undefined): boolean
  /** At its 'close', when not sent: why, when no 'error' said. */
  resetReason(pushed: Pushed): string
  id(pushed: Pushed): number
}

/** Response headers a pushed response never carries (connection-specific, RFC 9113 §8.2.2). */
const CONNECTION_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host'])

function pushedHeaders(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase()
    if (value !== undefined && !CONNECTION_HEADERS.has(lower)) out[lower] = value
  }
  return out
}

class TransportPushStream<Parent extends ParentStream, Pushed extends PushedStream> implements PushStream {
  readonly id: number
  readonly path: string
  readonly #transport: PushTransport<Parent, Pushed>
  readonly #stream: Pushed
  readonly #outcome: Promise<PushOutcome>
  #bytes = 0
  #responded = false

  get responded(): boolean {
    return this.#responded
  }

  constructor(transport: PushTransport<Parent, Pushed>, stream: Pushed, path: string, parent: Parent, options: PushOptions | undefined) {
    this.#transport = transport
    this.#stream = stream
    this.id = transport.id(stream)
    this.path = path
    // No progress for `timeout` ms (flow control stuck, client gone quiet, no response): reset, release the body.
    stream.setTimeout(options?.timeout ?? DEFAULT_PUSH_TIMEOUT, () => this.cancel())
    let reason: string | undefined
    stream.on('error', (err: Error) => {
      reason ??= err.message
    })
    this.#outcome = new Promise((resolve) => {
      stream.once('close', (err?: Error) => {
        if (transport.sent(stream, err)) resolve({ status: 'sent', bytes: this.#bytes })
        else resolve({ status: 'cancelled', bytes: this.#bytes, reason: reason ?? err?.message ?? transport.resetReason(stream) })
      })
    })
    // A promise nobody answers must not hold the connection: reset when the parent closes.
    if (options?.keepAfterParent !== true) {
      const watch = cancelWhenParentCloses(parent, this)
      stream.once('close', () => watch.settled())
    }
  }

  respond(status: number, headers: OutgoingHttpHeaders, body?: PushBody): Promise<PushOutcome> {
    return this[respondInTurn](status, headers, body, undefined).outcome
  }

  [respondInTurn](
    status: number,
    headers: OutgoingHttpHeaders,
    body: PushBody | undefined,
    after: Promise<void> | undefined,
  ): { outcome: Promise<PushOutcome>; written: Promise<void> } {
    const stream = this.#stream
    const outcome = this.#outcome
    if (this.#responded || this.#transport.closed(stream)) return { outcome, written: Promise.resolve() }
    this.#responded = true
    try {
      this.#transport.respond(stream, status, pushedHeaders(headers))
    } catch (err) {
      stream.destroy(err as Error)
      return { outcome, written: Promise.resolve() }
    }
    const written = new Promise<void>((resolve) => {
      stream.once('finish', resolve)
      stream.once('close', resolve)
    })
    const write = (): void => {
      if (this.#transport.closed(stream)) return
      try {
        writePushBody(stream, body, (bytes) => {
          this.#bytes += bytes
        })
      } catch (err) {
        // Never a rejection left to the caller's turn: the stream closes with the error instead.
        stream.destroy(err as Error)
      }
    }
    if (after) void after.then(write)
    else write()
    return { outcome, written }
  }

  cancel(): void {
    this.#transport.cancel(this.#stream)
  }
}

export class TransportPusher<Parent extends ParentStream, Pushed extends PushedStream> implements Pusher {
  readonly #transport: PushTransport<Parent, Pushed>
  readonly #parent: Parent
  readonly #requestHeaders: IncomingHttpHeaders
  readonly #authority: string

  constructor(transport: PushTransport<Parent, Pushed>, parent: Parent, requestHeaders: IncomingHttpHeaders, authority: string) {
    this.#transport = transport
    this.#parent = parent
    this.#requestHeaders = requestHeaders
    this.#authority = authority
  }

  remoteWindow(): number {
    return Math.max(0, this.#transport.remoteWindow(this.#parent))
  }

  get connection(): object {
    return this.#transport.connection(this.#parent)
  }

  push(path: string, options?: PushOptions): Promise<PushStream> {
    let headers: IncomingHttpHeaders
    try {
      headers = pushRequestHeaders(path, this.#requestHeaders, options)
    } catch (err) {
      return Promise.reject(err)
    }
    const transport = this.#transport
    const parent = this.#parent
    if (!transport.parentOpen(parent)) {
      return Promise.reject(new H2PushError('ERR_H2PUSH_STREAM_CLOSED', `push ${path}: the parent stream or its connection is closing`))
    }
    if (!transport.peerAcceptsPush(parent)) {
      return Promise.reject(new H2PushError('ERR_H2PUSH_PUSH_DISABLED', `push ${path}: the client does not accept server push`))
    }
    return new Promise<PushStream>((resolve, reject) => {
      const failed = (err: Error): void => reject(new H2PushError('ERR_H2PUSH_PUSH_FAILED', `push ${path}: ${err.message}`, { cause: err }))
      try {
        transport.promise(parent, { path, authority: this.#authority, headers }, (err, pushed) => {
          if (err || !pushed) failed(err ?? new Error('no promised stream'))
          else resolve(new TransportPushStream(transport, pushed, path, parent, options))
        })
      } catch (err) {
        failed(err as Error)
      }
    })
  }
}

/** The Pusher of `parent` when it can push now (open, and the peer accepts push), else undefined. */
export function transportPusher<Parent extends ParentStream, Pushed extends PushedStream>(
  transport: PushTransport<Parent, Pushed>,
  parent: Parent,
  requestHeaders: IncomingHttpHeaders,
  authority: string,
): Pusher | undefined {
  if (!transport.parentOpen(parent) || !transport.peerAcceptsPush(parent)) return undefined
  return new TransportPusher(transport, parent, requestHeaders, authority)
}
