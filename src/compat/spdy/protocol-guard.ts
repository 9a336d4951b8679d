/**
 * The protocol guard: spdy-transport's server connections held to RFC 9113 / RFC 7541 and
 * bounded against the HTTP/2 attack families, as nghttp2 holds and bounds node:http2.
 *
 * spdy-transport parsed frames and handed them on with few checks: a request without
 * `:path`, with `transfer-encoding` or with a `content-length` its DATA did not match
 * reached the app; frames on idle streams, frames inside a header block and trailers
 * that did not end the stream passed; and a client could reset streams, send PINGs and
 * SETTINGS it never read the answers to, or empty frames, without end (one connection
 * took the whole server's CPU and hundreds of MB). Each connection now has a guard that
 * sees every frame's head before spdy-transport does (`frameHead`), every decoded header
 * list (`headerBlock`) and every frame before its stream does (`beforeFrame`):
 *
 * - Connection errors (frames on idle streams, a frame inside a header block, an
 *   even-numbered or a reused stream id, a frame after END_STREAM on a closed stream) end
 *   the connection with GOAWAY and the code the RFC names; stream errors (a malformed
 *   request or trailer section, a `content-length` that disagrees with the DATA, HEADERS
 *   or DATA on a half-closed stream) reset the stream. A malformed request never becomes a
 *   stream, so it never reaches the app.
 * - Limits (`createServer({ limits })`, src/server/limits.ts): past one, GOAWAY
 *   ENHANCE_YOUR_CALM and the connection closes; a client that does not read its socket
 *   (control frames queued for it) is closed at once.
 *
 * The guard keeps its own view of the streams the peer opened (open, and a bounded memory
 * of the last closed ones), updated frame by frame: frames reach the guard in order, one
 * at a time (the parser takes the next frame only when the last one is handled).
 */
import createDebug from 'debug'
import type { Socket } from 'node:net'
import { type ResolvedH2Limits, TokenBucket } from '../../server/limits.js'
import { declaredLength, type Field, requestProblem, trailersProblem } from './header-rules.js'
import type { SpdyConnection, SpdyFrame } from './internals.js'

const debug = createDebug('express-h2-push:spdy-guard')

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const
const END_STREAM = 0x1
const ACK = 0x1
const END_HEADERS = 0x4

/** How many closed streams a connection remembers, to tell a frame on a closed stream from one with a reused id. */
const REMEMBERED_CLOSED = 1024

export interface FrameHeader {
  length: number
  type: number
  flags: number
  id: number
}

/** An error of the whole connection: GOAWAY with `code`. */
export interface ConnectionError {
  code: string
  message: string
  /** The client does not read: close the socket at once, no GOAWAY can reach it. */
  now?: boolean
}

/** How a stream the peer opened was closed. */
type Closed = 'ended' | 'reset-by-peer' | 'reset-by-us'

interface PeerStream {
  /** The peer sent END_STREAM. */
  remoteEnded: boolean
  /** The request's content-length, -1 without one. */
  declared: number
  /** DATA payload bytes received. */
  received: number
}

/** The header block being received: what it is for, and what to do with it once decoded. */
interface Block {
  id: number
  continuations: number
  kind: 'request' | 'trailers' | 'ignore'
  /** A stream error to answer once the block is decoded (its HPACK state must still be applied). */
  reject?: { code: string; reason: string }
  endStream: boolean
}

function calm(message: string, now = false): ConnectionError {
  return { code: 'ENHANCE_YOUR_CALM', message, now }
}

export class ProtocolGuard {
  readonly #connection: SpdyConnection
  readonly limits: ResolvedH2Limits
  readonly #open = new Map<number, PeerStream>()
  readonly #closed = new Map<number, Closed>()
  #lastPeerId = 0
  #block: Block | null = null
  #emptyFrames = 0
  #queuedControl = 0
  readonly #resets: TokenBucket
  readonly #priorities: TokenBucket
  /** Set once the connection is being ended by the guard. */
  ended = false

  readonly #end: (error: ConnectionError) => void

  /** `end` ends the connection for a limit passed outside a frame's head. */
  constructor(connection: SpdyConnection, limits: ResolvedH2Limits, end: (error: ConnectionError) => void) {
    this.#connection = connection
    this.limits = limits
    this.#end = end
    this.#resets = new TokenBucket(limits.resets)
    this.#priorities = new TokenBucket(limits.idlePriorities)
  }

  /** The stream's state as the peer sees it: open (with its record), closed (how), or idle. */
  #state(id: number): PeerStream | Closed | 'idle' {
    const open = this.#open.get(id)
    if (open) return open
    const closed = this.#closed.get(id)
    if (closed) return closed
    if (id % 2 === 0) return id >= this.#connection._spdyState.stream.nextId ? 'idle' : 'reset-by-us'
    return id > this.#lastPeerId ? 'idle' : 'ended'
  }

  #close(id: number, how: Closed): void {
    if (!this.#open.delete(id) && this.#closed.has(id)) return
    this.#closed.set(id, how)
    if (this.#closed.size > REMEMBERED_CLOSED) this.#closed.delete(this.#closed.keys().next().value as number)
  }

  /** Whether frames the server must answer are queued for a client that is not reading them. */
  #backedUp(): boolean {
    const socket = this.#connection.socket as Socket
    const framer = this.#connection._spdyState.framer as unknown as { _readableState?: { length: number } }
    return socket.writableLength > 0 || (framer._readableState?.length ?? 0) > 0
  }

  /** Counts one control frame the server queues in answer; past the limit while the client does not read, the connection ends. */
  queuedControl(): ConnectionError | undefined {
    if (!this.#backedUp()) {
      this.#queuedControl = 0
      return undefined
    }
    if (++this.#queuedControl > this.limits.maxQueuedControlFrames) {
      return calm(`more than ${this.limits.maxQueuedControlFrames} control frames queued for a client that does not read them`, true)
    }
    return undefined
  }

  #empty(what: string): ConnectionError | undefined {
    if (++this.#emptyFrames > this.limits.maxEmptyFrames) return calm(`more than ${this.limits.maxEmptyFrames} empty frames (${what})`)
    return undefined
  }

  /** Every frame's head, before spdy-transport reads its payload. */
  frameHead(head: FrameHeader): ConnectionError | undefined {
    const { type, flags, id, length } = head
    if (this.#block) return this.#continuation(head)
    switch (type) {
      case FRAME.DATA:
        if (length === 0 && !(flags & END_STREAM)) return this.#empty('DATA')
        return this.#dataHead(id, flags)
      case FRAME.HEADERS:
        return this.#headersHead(head)
      case FRAME.PRIORITY:
        if (id !== 0 && !this.#open.has(id) && !this.#priorities.take()) return calm('too many PRIORITY frames for streams that are not open')
        return undefined
      case FRAME.RST_STREAM:
        return this.#resetHead(id)
      case FRAME.WINDOW_UPDATE:
        if (id !== 0 && this.#state(id) === 'idle') return { code: 'PROTOCOL_ERROR', message: `WINDOW_UPDATE on idle stream ${id}` }
        return undefined
      case FRAME.PING:
      case FRAME.SETTINGS:
        return flags & ACK ? undefined : this.queuedControl()
      default:
        return undefined
    }
  }

  #continuation(head: FrameHeader): ConnectionError | undefined {
    const block = this.#block!
    if (head.type !== FRAME.CONTINUATION || head.id !== block.id) {
      return { code: 'PROTOCOL_ERROR', message: `frame of type ${head.type} on stream ${head.id} inside the header block of stream ${block.id}` }
    }
    if (++block.continuations > this.limits.maxContinuations) return calm(`more than ${this.limits.maxContinuations} CONTINUATION frames in one header block`)
    if (head.length === 0 && !(head.flags & END_HEADERS)) return this.#empty('CONTINUATION')
    return undefined
  }

  #dataHead(id: number, flags: number): ConnectionError | undefined {
    if (id === 0) return undefined // spdy-transport: PROTOCOL_ERROR
    const state = this.#state(id)
    if (state === 'idle') return { code: 'PROTOCOL_ERROR', message: `DATA on idle stream ${id}` }
    if (state === 'ended') return { code: 'STREAM_CLOSED', message: `DATA on closed stream ${id}` }
    if (state === 'reset-by-peer') return this.#resetStream(id, 'STREAM_CLOSED', 'DATA after RST_STREAM')
    if (state === 'reset-by-us') return undefined // dropped in beforeFrame (RFC 9113 §5.4.2)
    if (state.remoteEnded) return this.#resetStream(id, 'STREAM_CLOSED', 'DATA after END_STREAM')
    if (flags & END_STREAM) state.remoteEnded = true
    return undefined
  }

  #headersHead(head: FrameHeader): ConnectionError | undefined {
    const { id, flags, length } = head
    const endStream = (flags & END_STREAM) !== 0
    if (id === 0) return undefined // spdy-transport: PROTOCOL_ERROR
    if (length === 0 && !(flags & END_HEADERS)) {
      const empty = this.#empty('HEADERS')
      if (empty) return empty
    }
    if (id % 2 === 0) return { code: 'PROTOCOL_ERROR', message: `HEADERS on even-numbered stream ${id}` }
    const block: Block = { id, continuations: 0, kind: 'request', endStream }
    const state = this.#state(id)
    if (state === 'idle') {
      this.#lastPeerId = id
      this.#open.set(id, { remoteEnded: endStream, declared: -1, received: 0 })
    } else if (state === 'ended') {
      if (!this.#closed.has(id)) return { code: 'PROTOCOL_ERROR', message: `HEADERS on stream ${id}, lower than the last stream opened (${this.#lastPeerId})` }
      return { code: 'STREAM_CLOSED', message: `HEADERS on closed stream ${id}` }
    } else if (state === 'reset-by-peer') {
      block.kind = 'ignore'
      block.reject = { code: 'STREAM_CLOSED', reason: 'HEADERS after RST_STREAM' }
    } else if (state === 'reset-by-us') {
      block.kind = 'ignore'
    } else if (state.remoteEnded) {
      block.kind = 'ignore'
      block.reject = { code: 'STREAM_CLOSED', reason: 'HEADERS after END_STREAM' }
    } else {
      block.kind = 'trailers'
      if (!endStream) block.reject = { code: 'PROTOCOL_ERROR', reason: 'trailers without END_STREAM' }
      else state.remoteEnded = true
    }
    this.#block = block
    return undefined
  }

  #resetHead(id: number): ConnectionError | undefined {
    if (id === 0) return undefined // spdy-transport: PROTOCOL_ERROR
    const state = this.#state(id)
    if (state === 'idle') return { code: 'PROTOCOL_ERROR', message: `RST_STREAM on idle stream ${id}` }
    if (!this.#resets.take()) return calm(`more than ${this.limits.resets.burst} RST_STREAM frames at ${this.limits.resets.perSecond}/s`)
    if (typeof state === 'object') this.#close(id, 'reset-by-peer')
    return undefined
  }

  /** A stream error found at a frame's head: RST_STREAM now, the stream aborted. */
  #resetStream(id: number, code: string, reason: string): ConnectionError | undefined {
    debug('stream %d: %s: RST_STREAM %s', id, reason, code)
    this.#close(id, 'reset-by-us')
    const stream = this.#connection._spdyState.stream.map[id]
    if (stream && !stream._spdyState.aborted) stream.abort(code)
    else this.#connection._spdyState.framer.rstFrame({ id, code })
    return undefined
  }

  /** Answers a header block with a stream error: the stream (if the app has it) aborted, else an RST_STREAM for an id now used. */
  reject(id: number, code: string, reason: string): void {
    debug('stream %d: %s: RST_STREAM %s', id, reason, code)
    const state = this.#connection._spdyState
    const stream = state.stream.map[id]
    if (stream) {
      if (!stream._spdyState.aborted) stream.abort(code)
      return
    }
    this.#countRejected()
    state.stream.lastId.received = Math.max(state.stream.lastId.received, id)
    state.stream.lastId.both = Math.max(state.stream.lastId.both, id)
    state.framer.rstFrame({ id, code })
  }

  /** The decoded fields of the header block that ends now; returns what the connection does with it. */
  headerBlock(fields: readonly Field[]): { reject?: { code: string; reason: string }; ignore?: boolean } {
    const block = this.#block
    this.#block = null
    if (!block) return {}
    if (block.kind === 'ignore' || block.reject) {
      if (block.reject && block.kind === 'trailers') this.#close(block.id, 'reset-by-us')
      return block.reject ? { reject: block.reject } : { ignore: true }
    }
    if (block.kind === 'trailers') {
      const problem = trailersProblem(fields)
      if (!problem) return {}
      this.#close(block.id, 'reset-by-us')
      return { reject: { code: 'PROTOCOL_ERROR', reason: problem } }
    }
    const tooLarge = this.#sizeProblem(fields)
    const problem = tooLarge ?? requestProblem(fields)
    const stream = this.#open.get(block.id)
    if (problem || !stream) {
      this.#close(block.id, 'reset-by-us')
      return { reject: { code: tooLarge ? 'ENHANCE_YOUR_CALM' : 'PROTOCOL_ERROR', reason: problem ?? 'stream closed' } }
    }
    stream.declared = declaredLength(fields)
    if (block.endStream && stream.declared > 0) {
      this.#close(block.id, 'reset-by-us')
      return { reject: { code: 'PROTOCOL_ERROR', reason: `content-length ${stream.declared} and no DATA` } }
    }
    return {}
  }

  /**
   * A header list of too many fields: the stream is reset (ENHANCE_YOUR_CALM), and that takes
   * a token of the reset limit. (One over maxHeaderListSize never gets here: its decoding
   * stops at the limit, a connection error.)
   */
  #sizeProblem(fields: readonly Field[]): string | undefined {
    if (fields.length <= this.limits.maxHeaderListPairs) return undefined
    const problem = `header list of ${fields.length} fields, more than ${this.limits.maxHeaderListPairs}`
    if (!this.#resets.take()) this.#end(calm(`${problem}, too often`))
    return problem
  }

  /** The block under way is refused before it is decoded (too large): no stream for it. */
  blockRefused(): void {
    const block = this.#block
    this.#block = null
    if (block && block.kind === 'request') this.#close(block.id, 'reset-by-us')
  }

  /**
   * Every frame spdy-transport parsed, before the connection hands it to its stream.
   * Answers false to drop it: DATA past a request's content-length, or on a stream reset.
   */
  beforeFrame(frame: SpdyFrame): boolean {
    if (frame.type !== 'DATA' || frame.id === undefined) return true
    const id = frame.id
    const record = this.#open.get(id)
    if (!record) return this.#closed.get(id) !== 'reset-by-us'
    const data = frame['data'] as Buffer | undefined
    record.received += data?.length ?? 0
    const fin = frame['fin'] === true
    if (record.declared >= 0 && (record.received > record.declared || (fin && record.received !== record.declared))) {
      this.#resetStream(id, 'PROTOCOL_ERROR', `content-length ${record.declared}, DATA ${record.received}${fin ? '' : ' so far'}`)
      return false
    }
    return true
  }

  /** A stream the app got has closed: the guard forgets it as open. */
  streamClosed(id: number): void {
    this.#close(id, 'ended')
  }

  /** A request the connection did not make a stream of (refused over the stream limit, after GOAWAY). */
  streamRefused(id: number): void {
    this.#close(id, 'reset-by-us')
    this.#countRejected()
  }

  #rejected = 0

  /** A request stream refused before it reached the app: past maxRejectedStreams, the connection ends. */
  #countRejected(): void {
    if (++this.#rejected > this.limits.maxRejectedStreams) this.#end(calm(`more than ${this.limits.maxRejectedStreams} request streams refused`))
  }

  get openStreams(): number {
    return this.#open.size
  }
}
