/**
 * Window dribble (CVE-2019-9511): a client that keeps the server's flow-control windows at a
 * trickle (an INITIAL_WINDOW_SIZE of a few bytes, WINDOW_UPDATEs of one byte) holds every
 * response it asked for in memory and makes the server send its bodies a byte a frame,
 * for as long as it likes. Neither nghttp2 nor spdy-transport bound it.
 *
 * A connection is starved when, at every look for `limits.stalledWindow.ms`, a response on
 * it has data waiting, its socket is not what holds it (the socket's buffer is under its
 * high-water mark: the TCP path takes what it is given), and the client set the
 * INITIAL_WINDOW_SIZE of its streams under `minWindow` bytes (one look in between with nothing
 * waiting does not break the run: a dribbler's 100 streams advance a byte at a time in step, finish
 * together and are asked again, and a look can fall in that gap). Such a connection gets
 * GOAWAY(ENHANCE_YOUR_CALM) and is closed. A slow network (the socket backs up), or a client
 * with ordinary windows that pauses a stream or stops reading, is not starvation. (A client
 * that dribbles the connection window alone is bounded by maxConcurrentStreams only: node:http2
 * does not show JavaScript the WINDOW_UPDATE frames that would tell it from a paused one.)
 */
import type { Socket } from 'node:net'

export interface StallProbe {
  /** A response on the connection has data waiting to be sent. */
  pending(): boolean
  /** The initial window the client set for its streams is under `minWindow`. */
  smallWindow(minWindow: number): boolean
  readonly socket: Socket
  /** Checked at every look too: a limit that can only be seen by looking (node:http2's rejected streams). */
  overLimit?(): string | undefined
}

export interface StallLimit {
  readonly ms: number
  readonly minWindow: number
}

/** How many looks make up `ms`. */
const LOOKS = 4

/** Watches one connection; `end` runs once when it has starved for `limit.ms` (or `probe.overLimit` says why). Returns the stop function. */
export function watchStalledWindows(probe: StallProbe, limit: StallLimit, end: (why: string) => void): () => void {
  let starved = 0
  let idle = 0
  const timer = setInterval(
    () => {
      // The socket only once a response waits: node:http2's session.socket throws once the session is destroyed
      // (ERR_HTTP2_SOCKET_UNBOUND), and this may look between the destroy and the 'close' that stops it.
      if (!probe.pending()) {
        // One look with nothing waiting keeps the count: a dribbler's streams move in step, and all of them can
        // finish (and be asked again) between two looks. Two in a row: the client is not holding anything.
        if (++idle > 1) starved = 0
      } else if (probe.socket.writableNeedDrain || !probe.smallWindow(limit.minWindow)) {
        starved = 0
        idle = 0
      } else {
        starved++
        idle = 0
      }
      const why = starved > LOOKS ? `responses held over ${limit.ms} ms by stream windows under ${limit.minWindow} bytes` : probe.overLimit?.()
      if (why !== undefined) {
        clearInterval(timer)
        end(why)
      }
    },
    Math.max(10, limit.ms / LOOKS),
  )
  timer.unref()
  return () => clearInterval(timer)
}
