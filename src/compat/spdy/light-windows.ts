/**
 * Stream flow-control windows without event emitters.
 *
 * spdy-transport gives every stream a Window of two Sides (what the peer may send, what
 * we may send), each an EventEmitter whose only listener is the stream's 'overflow'
 * handler: two listener tables per stream, about 400 bytes a held stream. A stream's
 * Sides are made here without an emitter's state, and keep that one handler in a field;
 * any other listener (none in spdy-transport) gets an ordinary listener table. The
 * connection's own window keeps spdy-transport's Sides.
 *
 * The Sides and the Window are made by constructors (their fields in the object, not in
 * a separate property array), a Side reads its name ('recv', 'send') from its window, its
 * refill queue is made when a frame first waits on
 * it (a held stream that sends no DATA never has one), and the stream's 'overflow'
 * handler, a closure per stream in spdy-transport, is one function shared by every
 * stream (`shareOverflowHandler`, when the stream is made), which finds the stream from
 * the window.
 */
import { EventEmitter } from 'node:events'
import type { SpdyTransportModule } from './internals.js'

interface SideOptions {
  size: number
  max: number
  lowWaterMark?: number | undefined
}

interface Waiting {
  size: number
  callback: () => void
}

interface WindowShape {
  id: number
  isServer: boolean
  debug: unknown
  recv: SideShape
  send: SideShape
}

interface SideShape {
  max: number
  limit: number
  lowWaterMark: number
}

type Overflow = (this: LightSide) => void
type Update = (this: LightSide, size: number, callback?: () => void) => void

/** No refill queue yet: shared, empty, never written (a Side makes its own before a frame waits). */
const NO_QUEUE: Waiting[] = Object.freeze([]) as unknown as Waiting[]

class LightSide {
  /** Which side of its window this is ('recv' or 'send'): read from the window (below), not kept per side. */
  declare readonly name: string
  window: LightWindow
  current: number
  max: number
  limit: number
  lowWaterMark: number
  _refilling = false
  _refillQueue: Waiting[] = NO_QUEUE
  /** The one 'overflow' listener. */
  _overflow: Overflow | undefined = undefined

  constructor(window: LightWindow, o: SideOptions) {
    this.window = window
    this.current = o.size
    this.max = o.size
    this.limit = o.max
    this.lowWaterMark = o.lowWaterMark === undefined ? o.size / 2 : o.lowWaterMark
  }
}

class LightWindow {
  id: number
  isServer: boolean
  debug: unknown
  recv: LightSide
  send: LightSide
  /** The stream whose window this is, for the shared 'overflow' handler. */
  stream: { _onWindowOverflow(): void } | null = null

  constructor(from: WindowShape, id: number, debug: unknown) {
    this.id = id
    this.isServer = from.isServer
    this.debug = debug
    this.recv = new LightSide(this, { size: from.recv.max, max: from.recv.limit, lowWaterMark: from.recv.lowWaterMark })
    this.send = new LightSide(this, { size: from.send.max, max: from.send.limit, lowWaterMark: from.send.lowWaterMark })
  }
}

Object.defineProperty(LightSide.prototype, 'name', {
  configurable: true,
  enumerable: false,
  get(this: LightSide): string {
    return this === this.window.recv ? 'recv' : 'send'
  },
})

type WindowConstructor = SpdyTransportModule['Window'] & { prototype: Record<string, unknown> }

/** spdy-transport's per-stream `function _onWindowOverflow () { self._onWindowOverflow() }`, shared. */
function overflowOfStream(this: LightSide): void {
  this.window.stream!._onWindowOverflow()
}

/** The stream's window calls `stream._onWindowOverflow()` through the shared handler, not the stream's closure. */
export function shareOverflowHandler(stream: { _spdyState: unknown; _onWindowOverflow(): void }): void {
  const window = (stream._spdyState as { window?: unknown }).window
  if (!(window instanceof LightWindow)) return
  const handler = window.recv._overflow
  // Both Sides have the stream's closure, and only it (as the stream's constructor left them).
  if (typeof handler !== 'function' || handler !== window.send._overflow || handler === overflowOfStream) return
  window.stream = stream
  window.recv._overflow = overflowOfStream
  window.send._overflow = overflowOfStream
}

export function installLightStreamWindows(transport: SpdyTransportModule): void {
  const Window = transport.Window as WindowConstructor
  const options = { id: 0, recv: { size: 1, max: 1 }, send: { size: 1, max: 1 } }
  const server = new Window({ ...options, isServer: true }) as unknown as WindowShape
  const client = new Window({ ...options, isServer: false }) as unknown as WindowShape
  const sideProto = Object.getPrototypeOf(server.send) as Record<string, unknown>

  const lightProto = LightSide.prototype as unknown as Record<string, unknown>
  Object.setPrototypeOf(lightProto, sideProto)
  Object.setPrototypeOf(LightWindow.prototype, Window.prototype)
  lightProto['on'] = function onOverflowInAField(this: LightSide, event: string | symbol, listener: Overflow): unknown {
    if (event === 'overflow' && this._overflow === undefined) {
      this._overflow = listener
      return this
    }
    return EventEmitter.prototype.on.call(this as unknown as EventEmitter, event, listener)
  }
  lightProto['addListener'] = lightProto['on']
  lightProto['emit'] = function emitOverflowFromTheField(this: LightSide, event: string | symbol, ...args: unknown[]): boolean {
    const heard = event === 'overflow' && this._overflow !== undefined
    if (heard) this._overflow!.call(this)
    return EventEmitter.prototype.emit.call(this as unknown as EventEmitter, event, ...args) || heard
  }
  lightProto['update'] = function updateWithItsOwnQueue(this: LightSide, size: number, callback?: () => void): void {
    // The only updates that may wait (in spdy-transport's Side#update and the whole-frame one).
    if (callback !== undefined && size <= 0 && this._refillQueue === NO_QUEUE) this._refillQueue = []
    ;(sideProto['update'] as Update).call(this, size, callback)
  }

  Window.prototype['clone'] = function cloneLight(this: WindowShape, id: number): LightWindow {
    return new LightWindow(this, id, this.isServer ? server.debug : client.debug)
  }
}
