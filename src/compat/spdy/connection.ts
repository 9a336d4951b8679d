/**
 * spdy-transport connection fixes.
 *
 * - Lost END_STREAM on large bodies: a stream is dropped from the connection's map
 *   as soon as it ends, while its last DATA(END_STREAM) may still be queued. A
 *   WINDOW_UPDATE the peer sends for it then was answered with RST_STREAM, which
 *   jumps the queue ahead of that DATA. RFC 9113 §5.1/§6.9: WINDOW_UPDATE (and
 *   PRIORITY, RST_STREAM) for a closed stream are ignored.
 * - Re-enabled push: any later SETTINGS frame that omitted ENABLE_PUSH switched push
 *   back on, and the next PUSH_PROMISE was a protocol error for the peer. A SETTINGS
 *   value stays in force until the peer changes it (RFC 9113 §6.5.2).
 * - GOAWAY: the peer's last-stream-id covers the streams *we* opened (our pushes),
 *   our own GOAWAY's covers the peer's. spdy-transport aborted both kinds and emitted
 *   'error' on each, which crashed the process on a push stream with no listener.
 * - `_removeStream` ran twice for a stream closed twice and drove the stream count
 *   negative; it now removes a stream once.
 */
import type { GoawayParams, SpdyConnection, SpdyFrame, SpdyStream } from './internals.js'

const FRAMES_IGNORED_ON_CLOSED_STREAMS = new Set(['WINDOW_UPDATE', 'PRIORITY', 'RST'])

export function ignoreFramesForClosedStreams(handleFrame: (this: SpdyConnection, frame: SpdyFrame) => void) {
  return function handleFrameIgnoringClosed(this: SpdyConnection, frame: SpdyFrame): void {
    const id = frame.id
    if (id !== undefined && id !== 0 && FRAMES_IGNORED_ON_CLOSED_STREAMS.has(frame.type)) {
      const state = this._spdyState
      if (state.stream.map[id] === undefined && id <= state.stream.lastId.both) return
    }
    handleFrame.call(this, frame)
  }
}

export function keepPushSetting(handleSettings: (this: SpdyConnection, settings: Record<string, number | undefined>) => void) {
  return function handleSettingsKeepingPush(this: SpdyConnection, settings: Record<string, number | undefined>): void {
    const framer = this._spdyState.framer
    const before = framer.pushEnabled
    handleSettings.call(this, settings)
    if (settings['enable_push'] === undefined && before !== null) framer.pushEnabled = before
  }
}

export function removeStreamOnce(removeStream: (this: SpdyConnection, stream: SpdyStream) => void) {
  return function removeStreamIfPresent(this: SpdyConnection, stream: SpdyStream): void {
    if (this._spdyState.stream.map[stream.id] !== stream) return
    removeStream.call(this, stream)
  }
}

function noop(): void {}

/** Our `_goaway`: same flow as spdy-transport's, with the stream ownership of RFC 9113 §6.8. */
export function goaway(this: SpdyConnection, params: GoawayParams): void {
  const state = this._spdyState
  state.goaway = params.lastId
  // We send GOAWAY: it covers the peer's streams. We receive it: it covers ours.
  const coversOdd = params.send === state.isServer
  for (const id of Object.keys(state.stream.map)) {
    const stream = state.stream.map[id]
    if (!stream || stream.id <= params.lastId) continue
    if ((stream.id % 2 === 1) !== coversOdd) continue
    // Never let an 'error' on a stream nobody listens to crash the process.
    if (stream.listenerCount('error') === 0) stream.once('error', noop)
    stream.abort()
    stream.emit('error', new Error('New stream after GOAWAY'))
  }

  const finish = (): void => {
    if (state.stream.count === 0 || params.code !== 'OK') {
      state.parser.kill()
      process.nextTick(() => this._onStreamDrain(new Error('Fatal error: ' + params.code)))
      return
    }
    this.on('_streamDrain', this._onStreamDrain)
  }

  if (params.send) {
    const frame: { lastId: number; code: string; extra?: string } = { lastId: params.lastId, code: params.code }
    if (params.extra !== undefined) frame.extra = params.extra
    state.framer.goawayFrame(frame, finish)
  } else {
    finish()
  }
}

type PushCallback = (err: Error | null, push: SpdyStream) => void
type ConnectionPushPromise = (this: SpdyConnection, parent: SpdyStream, uri: unknown, callback?: PushCallback) => SpdyStream

/**
 * Push streams: a refused PUSH_PROMISE (peer disabled push, GOAWAY) left its stream
 * in the connection's map for good, corked with its body buffered; and a push stream
 * with no 'error' listener crashed the process when the peer reset it.
 */
export function releaseFailedPushes(pushPromise: ConnectionPushPromise): ConnectionPushPromise {
  return function pushPromiseReleasingFailures(this: SpdyConnection, parent, uri, callback) {
    // eslint-disable-next-line prefer-const
    let push: SpdyStream | undefined
    const onPromised: PushCallback = (err, stream) => {
      if (err && push) {
        // The promise never reached the peer: drop the stream without an RST_STREAM.
        push._spdyState.aborted = true
        this._removeStream(push)
        push.destroy()
      }
      if (callback) callback(err, stream ?? (push as SpdyStream))
      else if (err && push) push.emit('error', err)
    }
    push = pushPromise.call(this, parent, uri, onPromised)
    push.on('error', noop)
    return push
  }
}
