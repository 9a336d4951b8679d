/**
 * Every PUSH_PROMISE asked for before a response goes out ahead of its HEADERS.
 *
 * spdy-transport writes a PUSH_PROMISE one tick late (its framer's `_checkPush` defers
 * the frame with `process.nextTick`), while `stream.respond()` writes the response
 * HEADERS at once. So `res.push(...)` then `res.send(...)` in one tick put the HEADERS
 * first, and a client may request the pushed URL before it learns it is coming
 * (RFC 9113 §8.4: promises should come before the response that refers to them). Here
 * a stream counts the promises asked for on it and not yet written; a `respond()` made
 * meanwhile waits until they are, the stream held corked so that no DATA overtakes.
 */
import type { SpdyStream } from './internals.js'

type PushPromise = SpdyStream['pushPromise']
type Respond = SpdyStream['respond']

interface Waiting {
  promises: number
  /** Responses held (a 103, then the final one), in order. */
  responds: Array<() => void>
}

const waiting = new WeakMap<SpdyStream, Waiting>()

function stateOf(stream: SpdyStream): Waiting {
  let state = waiting.get(stream)
  if (!state) {
    state = { promises: 0, responds: [] }
    waiting.set(stream, state)
  }
  return state
}

/** Wraps `Stream#pushPromise`: counts the promise until its frame is written (or fails). */
export function countPendingPromises(pushPromise: PushPromise): PushPromise {
  return function pushPromiseCounted(this: SpdyStream, uri, callback) {
    const state = stateOf(this)
    state.promises++
    let settled = false
    const done = (): void => {
      if (settled) return
      settled = true
      state.promises--
      if (state.promises === 0) for (const respond of state.responds.splice(0)) respond()
    }
    let push: SpdyStream | undefined
    push = pushPromise.call(this, uri, (err, pushed) => {
      done()
      if (callback) callback(err, pushed)
      else if (err) (pushed ?? push)?.emit('error', err)
    })
    // Ended already: spdy-transport answers through the callback, or not at all.
    if (push === undefined) queueMicrotask(done)
    return push
  } as PushPromise
}

/** Wraps `Stream#respond`: waits for the promises asked for on this stream before it. */
export function respondAfterPromises(respond: Respond): Respond {
  return function respondAfterPendingPromises(this: SpdyStream, status, headers, callback) {
    const state = waiting.get(this)
    if (!state || (state.promises === 0 && state.responds.length === 0)) {
      respond.call(this, status, headers, callback)
      return
    }
    this._hardCork()
    state.responds.push(() => {
      respond.call(this, status, headers, callback)
      this._hardUncork()
    })
  }
}
