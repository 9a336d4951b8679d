/**
 * A hand-written HTTP/2 frame client for hostile-client tests: it writes exactly the frames
 * a test asks for (several in one TCP write, RST_STREAM right behind a request, more streams
 * than the server allows, no WINDOW_UPDATE) and records every frame the server sends.
 * HPACK: header blocks it sends are literals without indexing and without Huffman coding;
 * header blocks it receives are not decoded (tests read frame types, ids and error codes).
 */
import tls from 'node:tls'
import { once } from 'node:events'

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

export const FRAME_NAMES: Record<number, string> = Object.fromEntries(Object.entries(FRAME).map(([name, type]) => [type, name]))

export const SETTING = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
} as const

export const ERROR = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const

export const ERROR_NAMES: Record<number, string> = Object.fromEntries(Object.entries(ERROR).map(([name, code]) => [code, name]))

const END_STREAM = 0x1
const ACK = 0x1
const END_HEADERS = 0x4
const PADDED = 0x8
const PRIORITY_FLAG = 0x20

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

export interface Frame {
  readonly type: number
  readonly name: string
  readonly flags: number
  readonly streamId: number
  readonly payload: Buffer
  /** PUSH_PROMISE: the promised stream id. */
  readonly promisedId?: number
  /** RST_STREAM and GOAWAY: the error code. */
  readonly errorCode?: number
  /** GOAWAY: the last stream id the sender processed. */
  readonly lastStreamId?: number
  /** SETTINGS: the values sent (not for an ACK). */
  readonly settings?: ReadonlyMap<number, number>
  readonly endStream: boolean
}

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(streamId & 0x7fffffff, 5)
  return Buffer.concat([head, payload])
}

function hpackInteger(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1
  if (value < max) return [firstByte | value]
  const out = [firstByte | max]
  value -= max
  while (value >= 128) {
    out.push((value % 128) + 128)
    value = Math.floor(value / 128)
  }
  out.push(value)
  return out
}

function hpackString(value: string): Buffer {
  const bytes = Buffer.from(value, 'latin1')
  return Buffer.concat([Buffer.from(hpackInteger(bytes.length, 7, 0)), bytes])
}

/** An HPACK dynamic table size update (RFC 7541 §6.3): 001 and the new size as a 5-bit prefix integer. */
export function tableSizeUpdate(size: number): Buffer {
  return Buffer.from(hpackInteger(size, 5, 0x20))
}

export interface HeaderBlockOptions {
  /**
   * Dynamic table size updates to put in the block: `size` before the field at index `at`
   * (0, the default: at the start of the block, where RFC 7541 §4.2 allows it; any other
   * index puts it between fields, where it is a COMPRESSION_ERROR).
   */
  readonly tableSizeUpdates?: ReadonlyArray<{ readonly size: number; readonly at?: number }>
}

/** An HPACK header block of literals without indexing (no dynamic table, no Huffman). */
export function headerBlock(headers: ReadonlyArray<readonly [string, string]>, options: HeaderBlockOptions = {}): Buffer {
  const updates = options.tableSizeUpdates ?? []
  const parts: Buffer[] = []
  headers.forEach(([name, value], i) => {
    for (const update of updates) if ((update.at ?? 0) === i) parts.push(tableSizeUpdate(update.size))
    parts.push(Buffer.from([0x00]), hpackString(name), hpackString(value))
  })
  for (const update of updates) if ((update.at ?? 0) >= headers.length) parts.push(tableSizeUpdate(update.size))
  return Buffer.concat(parts)
}

export const frames = {
  settings: (values: Readonly<Record<number, number>> = {}): Buffer => {
    const entries = Object.entries(values)
    const payload = Buffer.alloc(entries.length * 6)
    entries.forEach(([id, value], i) => {
      payload.writeUInt16BE(Number(id), i * 6)
      payload.writeUInt32BE(value, i * 6 + 2)
    })
    return frame(FRAME.SETTINGS, 0, 0, payload)
  },
  settingsAck: (): Buffer => frame(FRAME.SETTINGS, ACK, 0),
  /** A GET (or other method) request's HEADERS, END_STREAM unless `endStream` is false. */
  request: (
    streamId: number,
    path: string,
    options: { authority?: string; method?: string; endStream?: boolean; headers?: ReadonlyArray<readonly [string, string]> } = {},
  ): Buffer =>
    frame(
      FRAME.HEADERS,
      END_HEADERS | (options.endStream === false ? 0 : END_STREAM),
      streamId,
      headerBlock([
        [':method', options.method ?? 'GET'],
        [':scheme', 'https'],
        [':authority', options.authority ?? 'localhost'],
        [':path', path],
        ...(options.headers ?? []),
      ]),
    ),
  rstStream: (streamId: number, code: number = ERROR.CANCEL): Buffer => {
    const payload = Buffer.alloc(4)
    payload.writeUInt32BE(code)
    return frame(FRAME.RST_STREAM, 0, streamId, payload)
  },
  goaway: (lastStreamId: number, code: number = ERROR.NO_ERROR): Buffer => {
    const payload = Buffer.alloc(8)
    payload.writeUInt32BE(lastStreamId & 0x7fffffff, 0)
    payload.writeUInt32BE(code, 4)
    return frame(FRAME.GOAWAY, 0, 0, payload)
  },
  windowUpdate: (streamId: number, increment: number): Buffer => {
    const payload = Buffer.alloc(4)
    payload.writeUInt32BE(increment & 0x7fffffff)
    return frame(FRAME.WINDOW_UPDATE, 0, streamId, payload)
  },
  pingAck: (payload: Buffer): Buffer => frame(FRAME.PING, ACK, 0, payload),
  /** A HEADERS frame carrying `block` (a header block or a fragment of one): END_HEADERS unless `endHeaders` is false, END_STREAM if `endStream`. */
  headers: (streamId: number, block: Buffer, options: { endStream?: boolean; endHeaders?: boolean } = {}): Buffer =>
    frame(FRAME.HEADERS, (options.endHeaders === false ? 0 : END_HEADERS) | (options.endStream ? END_STREAM : 0), streamId, block),
  /** A CONTINUATION frame: END_HEADERS unless `endHeaders` is false. */
  continuation: (streamId: number, block: Buffer, endHeaders = true): Buffer => frame(FRAME.CONTINUATION, endHeaders ? END_HEADERS : 0, streamId, block),
  data: (streamId: number, payload: Buffer | string, endStream = false): Buffer =>
    frame(FRAME.DATA, endStream ? END_STREAM : 0, streamId, typeof payload === 'string' ? Buffer.from(payload) : payload),
  /** A PRIORITY frame: non-exclusive dependency on `dependsOn`, weight 16. */
  priority: (streamId: number, dependsOn = 0, weight = 16): Buffer => {
    const payload = Buffer.alloc(5)
    payload.writeUInt32BE(dependsOn & 0x7fffffff, 0)
    payload[4] = weight - 1
    return frame(FRAME.PRIORITY, 0, streamId, payload)
  },
}

function parseFrame(type: number, flags: number, streamId: number, payload: Buffer): Frame {
  const base = {
    type,
    name: FRAME_NAMES[type] ?? `0x${type.toString(16)}`,
    flags,
    streamId,
    payload,
    endStream: (type === FRAME.DATA || type === FRAME.HEADERS) && (flags & END_STREAM) !== 0,
  }
  if (type === FRAME.PUSH_PROMISE) {
    const pad = flags & PADDED ? 1 : 0
    return { ...base, promisedId: payload.readUInt32BE(pad) & 0x7fffffff }
  }
  if (type === FRAME.RST_STREAM && payload.length >= 4) return { ...base, errorCode: payload.readUInt32BE(0) }
  if (type === FRAME.GOAWAY && payload.length >= 8) return { ...base, errorCode: payload.readUInt32BE(4), lastStreamId: payload.readUInt32BE(0) & 0x7fffffff }
  if (type === FRAME.SETTINGS && !(flags & ACK)) {
    const settings = new Map<number, number>()
    for (let i = 0; i + 6 <= payload.length; i += 6) settings.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2))
    return { ...base, settings }
  }
  return base
}

export interface RawClientOptions {
  host?: string
  /** The client's SETTINGS (sent right after the preface). Default: ENABLE_PUSH 1. */
  settings?: Readonly<Record<number, number>>
  /** Acknowledge the server's SETTINGS and answer PINGs. Default true. */
  ackSettings?: boolean
  /** Write the preface and the client's SETTINGS on connecting. Default true; false: the test writes them (or not) itself. */
  preface?: boolean
}

/** One TLS connection speaking raw HTTP/2 frames. */
export class RawH2Client {
  readonly socket: tls.TLSSocket
  readonly frames: Frame[] = []
  #buffer: Buffer = Buffer.alloc(0)
  #waiters: Array<() => void> = []
  closed = false

  private constructor(
    socket: tls.TLSSocket,
    readonly options: RawClientOptions,
  ) {
    this.socket = socket
    socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    socket.on('error', () => {})
    socket.setNoDelay(true)
    socket.on('close', () => {
      this.closed = true
      this.#wake()
    })
  }

  /** Connects (TLS, ALPN h2) and writes the preface and the client's SETTINGS. */
  static async connect(port: number, options: RawClientOptions = {}): Promise<RawH2Client> {
    const socket = tls.connect({ host: options.host ?? '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'], servername: 'localhost' })
    const client = new RawH2Client(socket, options)
    await once(socket, 'secureConnect')
    if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN chose ${String(socket.alpnProtocol)}, not h2`)
    if (options.preface !== false) client.writePreface()
    return client
  }

  #prefaced = false

  /** Writes the client's connection preface (the magic string and its SETTINGS) and `after`, in one write; until then nothing is acknowledged. */
  writePreface(...after: Buffer[]): void {
    this.#prefaced = true
    this.write(PREFACE, frames.settings(this.options.settings ?? { [SETTING.ENABLE_PUSH]: 1 }), ...after)
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3)
      if (this.#buffer.length < 9 + length) break
      const type = this.#buffer[3]!
      const flags = this.#buffer[4]!
      const streamId = this.#buffer.readUInt32BE(5) & 0x7fffffff
      const payload = this.#buffer.subarray(9, 9 + length)
      this.#buffer = this.#buffer.subarray(9 + length)
      const parsed = parseFrame(type, flags, streamId, payload)
      this.frames.push(parsed)
      if (this.options.ackSettings !== false && this.#prefaced && !this.socket.destroyed) {
        if (type === FRAME.SETTINGS && !(flags & ACK)) this.socket.write(frames.settingsAck())
        else if (type === FRAME.PING && !(flags & ACK)) this.socket.write(frames.pingAck(payload))
      }
    }
    this.#wake()
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter()
  }

  /** Writes the given frames in one TCP write. */
  write(...buffers: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(buffers))
  }

  /** Waits until `check` holds over the frames received, the socket closes (then resolves false), or `ms` passes (rejects). */
  async until(check: (frames: readonly Frame[]) => boolean, ms = 5000, what = 'frames'): Promise<boolean> {
    const end = Date.now() + ms
    while (!check(this.frames)) {
      if (this.closed) return false
      const left = end - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.frames.map((f) => `${f.name}:${f.streamId}`).join(' ')}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return true
  }

  #pings = 0

  /** Sends a PING and waits for its answer: everything the server queued before reading it has arrived. */
  async ping(ms = 5000): Promise<void> {
    const payload = Buffer.alloc(8)
    payload.writeUInt32BE(++this.#pings)
    this.write(frame(FRAME.PING, 0, 0, payload))
    await this.until((f) => f.some((x) => x.type === FRAME.PING && (x.flags & ACK) !== 0 && x.payload.equals(payload)), ms, 'the PING answer')
  }

  /** Waits for the server's GOAWAY (resolves it) or for the connection to close without one (resolves undefined); rejects after `ms`. */
  async goaway(ms = 3000): Promise<Frame | undefined> {
    await this.until((f) => f.some((x) => x.type === FRAME.GOAWAY), ms, 'a GOAWAY')
    return this.of(FRAME.GOAWAY)[0]
  }

  /** Waits for the server's RST_STREAM on `streamId` (resolves it), a GOAWAY or the connection's close (resolves undefined); rejects after `ms`. */
  async reset(streamId: number, ms = 3000): Promise<Frame | undefined> {
    await this.until((f) => f.some((x) => (x.type === FRAME.RST_STREAM && x.streamId === streamId) || x.type === FRAME.GOAWAY), ms, `RST_STREAM on ${streamId}`)
    return this.frames.find((x) => x.type === FRAME.RST_STREAM && x.streamId === streamId)
  }

  /** DATA payload bytes received on stream `streamId`, or on all streams. */
  dataBytes(streamId?: number): number {
    let bytes = 0
    for (const f of this.frames) if (f.type === FRAME.DATA && (streamId === undefined || f.streamId === streamId)) bytes += f.payload.length
    return bytes
  }

  /** Waits until the server sends no more DATA (PINGs until two answers come with nothing between them); returns the DATA bytes received. */
  async stalled(ms = 5000): Promise<number> {
    let before: number
    do {
      before = this.dataBytes()
      await this.ping(ms)
    } while (this.dataBytes() !== before)
    return before
  }

  /** Frames received on one stream, or of one type. */
  on(streamId: number): Frame[] {
    return this.frames.filter((f) => f.streamId === streamId)
  }

  of(type: number): Frame[] {
    return this.frames.filter((f) => f.type === type)
  }

  /** The stream's response is complete (END_STREAM) or reset. */
  finished(streamId: number): boolean {
    return this.frames.some((f) => f.streamId === streamId && (f.endStream || f.type === FRAME.RST_STREAM))
  }

  destroy(): void {
    this.socket.destroy()
  }

  /** Closes the TCP connection at once (no GOAWAY). */
  async close(): Promise<void> {
    if (this.closed) return
    this.socket.destroy()
    await once(this.socket, 'close')
  }
}

export { END_STREAM, END_HEADERS, PRIORITY_FLAG }
