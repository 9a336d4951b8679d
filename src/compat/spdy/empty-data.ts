/**
 * spdy-transport sends every DATA frame through the connection's flow-control window, also
 * the empty one that carries END_STREAM (`Framer#_frame`: `window.send.update(-0, callback)`
 * queues it while the window is spent). An empty DATA frame spends no window (RFC 9113
 * §6.9: flow control counts the frame's payload), so a response whose every byte was on
 * the wire still waited for a WINDOW_UPDATE before its END_STREAM: up to a round trip per
 * page load when pushes fill the client's window. In the RTT lab, with a page of
 * 10 × 16 KB stylesheets, the last END_STREAMs waited 25 ms after the last byte.
 *
 * Here an empty DATA frame goes out at once, unless a DATA frame of its own stream still
 * waits for the window: END_STREAM must not overtake its stream's data.
 */
import type { SpdyFramer } from './internals.js'
import { dataWaitsForWindow } from './reset-streams.js'

interface DataFrame {
  id: number
  fin?: boolean
  data?: Buffer
}
type WriteDataFrame = (this: SpdyFramer, frame: DataFrame, callback?: (err?: Error | null) => void) => void

export function emptyDataSkipsWindow(dataFrame: WriteDataFrame): WriteDataFrame {
  return function dataFrameSkippingWindowWhenEmpty(this: SpdyFramer, frame, callback): void {
    const window = this.window
    if (!window || frame.data?.length !== 0 || dataWaitsForWindow(this, frame.id)) {
      dataFrame.call(this, frame, callback)
      return
    }
    // The framer waits on the window only when it has one: render this frame without it.
    this.window = undefined
    try {
      dataFrame.call(this, frame, callback)
    } finally {
      this.window = window
    }
  }
}
