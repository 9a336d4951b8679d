/**
 * spdy-transport lets a DATA frame through a flow-control window that is short of it:
 * `Side#update` waits only while the window is empty (`current <= 0`), so a frame of
 * 8 KB goes out on a window of 1 KB and takes it negative. On the connection's window
 * several streams carve their frames in the same tick from the same stale value
 * (`Stream#_split` reads the window; the framer spends it a tick later), so a page of
 * pushes overran a client's 65 535-byte window by 1 001 bytes (66 536 bytes of DATA
 * before any WINDOW_UPDATE). RFC 9113 §6.9.1: a sender MUST NOT send a flow-controlled
 * frame longer than the space in either window; a client that checks treats it as a
 * connection error (FLOW_CONTROL_ERROR).
 *
 * Here a frame waits until the window holds it: a DATA frame spends window (`update` with
 * a negative size and a callback) only when it fits, and the wait queue lets frames go in
 * order as WINDOW_UPDATEs make room. Frames are never longer than the window's size
 * (`Stream#_split` cuts them to it), so each one fits once the peer returns its window.
 */
import type { SpdyFramer, SpdyTransportModule } from './internals.js'

interface Waiting {
  size: number
  callback: () => void
}

/** The part of spdy-transport's window `Side` these patches use. */
interface Side {
  current: number
  max: number
  _refilling: boolean
  _refillQueue: Waiting[]
  isEmpty(): boolean
  update(size: number, callback?: () => void): void
  window: { id: number; debug(format: string, ...args: unknown[]): void }
}

/** Whether a frame of `size` (negative: window it spends) may go now. */
function fits(side: Side, size: number): boolean {
  // A frame longer than the whole window could never fit: let it go once the window is full.
  return !side.isEmpty() && (side.current + size >= 0 || side.current >= side.max)
}

export function installWholeFrameFlowControl(transport: SpdyTransportModule): void {
  const probe = new transport.Window({ id: 0, isServer: true, recv: { size: 1, max: 1 }, send: { size: 1, max: 1 } })
  const proto = Object.getPrototypeOf(probe.send) as Side & Record<string, unknown>
  const update = proto.update

  proto.update = function updateWhenTheFrameFits(this: Side, size: number, callback?: () => void): void {
    if (size < 0 && callback && !fits(this, size)) {
      this.window.debug('id=%d wait for window=%d [%d/%d]', this.window.id, -size, this.current, this.max)
      this._refillQueue.push({ size, callback })
      return
    }
    update.call(this, size, callback)
  }

  proto['_processRefillQueue'] = function processRefillQueueInOrder(this: Side): void {
    if (this._refilling) return
    this._refilling = true
    while (this._refillQueue.length > 0 && fits(this, this._refillQueue[0]!.size)) {
      const item = this._refillQueue.shift()!
      update.call(this, item.size, item.callback)
    }
    this._refilling = false
  }
}

interface DataFrame {
  id: number
  fin?: boolean
  data?: Buffer
}
type WriteDataFrame = (this: SpdyFramer, frame: DataFrame, callback?: (err?: Error | null) => void) => void

/**
 * A DATA frame longer than what is left of the connection's window is cut at the window: the
 * first part goes now and spends the window exactly, the rest waits for the next
 * WINDOW_UPDATE (as nghttp2 does). Only when no frame waits for the window already, so
 * frames keep their order.
 */
export function cutDataAtTheWindow(dataFrame: WriteDataFrame): WriteDataFrame {
  return function dataFrameCutAtTheWindow(frame, callback): void {
    const side = this.window?.send as Side | undefined
    const data = frame.data
    const room = side?.current ?? 0
    if (!side || !data || side._refillQueue.length > 0 || room <= 0 || room >= data.length) {
      dataFrame.call(this, frame, callback)
      return
    }
    dataFrame.call(this, { ...frame, fin: false, data: data.subarray(0, room) })
    dataFrame.call(this, { ...frame, data: data.subarray(room) }, callback)
  }
}
