/**
 * Stream flow-control windows without event emitters.
 *
 * spdy-transport gives every stream a Window of two Sides (what the peer may send, what
 * we may send), each an EventEmitter whose only listener is the stream's 'overflow'
 * handler: two listener tables per stream, about 400 bytes a held stream. A stream's
 * Sides are made here without an emitter's state, and keep that one handler in a field;
 * any other listener (none in spdy-transport) gets an ordinary listener table. The
 * connection's own window keeps spdy-transport's Sides.
 */
import { EventEmitter } from 'node:events'
import type { SpdyTransportModule } from './internals.js'

interface SideOptions {
  size: number
  max: number
  lowWaterMark?: number
}

interface Side {
  window: unknown
  name: string
  current: number
  max: number
  limit: number
  lowWaterMark: number
  _refilling: boolean
  _refillQueue: unknown[]
  _overflow?: (() => void) | undefined
}

interface WindowShape {
  id: number
  isServer: boolean
  debug: unknown
  recv: Side
  send: Side
}

type WindowConstructor = SpdyTransportModule['Window'] & { prototype: Record<string, unknown> }

export function installLightStreamWindows(transport: SpdyTransportModule): void {
  const Window = transport.Window as WindowConstructor
  const options = { id: 0, recv: { size: 1, max: 1 }, send: { size: 1, max: 1 } }
  const server = new Window({ ...options, isServer: true }) as unknown as WindowShape
  const client = new Window({ ...options, isServer: false }) as unknown as WindowShape
  const sideProto = Object.getPrototypeOf(server.send) as object

  const lightProto = Object.create(sideProto) as Record<string, unknown>
  lightProto['on'] = function onOverflowInAField(this: Side, event: string | symbol, listener: () => void): unknown {
    if (event === 'overflow' && this._overflow === undefined) {
      this._overflow = listener
      return this
    }
    return EventEmitter.prototype.on.call(this as unknown as EventEmitter, event, listener)
  }
  lightProto['addListener'] = lightProto['on']
  lightProto['emit'] = function emitOverflowFromTheField(this: Side, event: string | symbol, ...args: unknown[]): boolean {
    const heard = event === 'overflow' && this._overflow !== undefined
    if (heard) this._overflow!()
    return EventEmitter.prototype.emit.call(this as unknown as EventEmitter, event, ...args) || heard
  }

  function side(window: WindowShape, name: string, o: SideOptions): Side {
    const s = Object.create(lightProto) as Side
    s.name = name
    s.window = window
    s.current = o.size
    s.max = o.size
    s.limit = o.max
    s.lowWaterMark = o.lowWaterMark === undefined ? s.max / 2 : o.lowWaterMark
    s._refilling = false
    s._refillQueue = []
    s._overflow = undefined
    return s
  }

  Window.prototype['clone'] = function cloneLight(this: WindowShape, id: number): WindowShape {
    const w = Object.create(Window.prototype) as WindowShape
    w.id = id
    w.isServer = this.isServer
    w.debug = this.isServer ? server.debug : client.debug
    w.recv = side(w, 'recv', { size: this.recv.max, max: this.recv.limit, lowWaterMark: this.recv.lowWaterMark })
    w.send = side(w, 'send', { size: this.send.max, max: this.send.limit, lowWaterMark: this.send.lowWaterMark })
    return w
  }
}
