/**
 * spdy-transport's parser steps without two closures each.
 *
 * The parser reads each frame in two steps (its 9-byte head, then its body), and each step
 * (`Parser#_consume`) made a `next` closure over a new context (the parser, the Transform's
 * callback, whether the step is still synchronous) and, when the step finished at once, a
 * second closure to take the next step on the next tick. In the allocation profile of Express
 * on spdy (`GET /crt`, h2load -c 20 -m 10) `_consume` was 930 bytes per request.
 *
 * Here each parser has one `next`, bound once, and the step's callback and whether it is still
 * synchronous are kept on the parser: a parser takes one step at a time (the Transform calls
 * `_transform` again only after the callback that ends a run of steps). What a step does is
 * unchanged: a step that finishes synchronously takes the next one on the next tick, one that
 * finishes later (a header block waiting for the decompressor) and a partial DATA frame's take
 * it at once, and frames are pushed in the order they were parsed.
 */

type Callback = (err?: Error | null) => void

interface ParserInternals {
  dead: boolean
  partial: boolean
  waiting: number
  buffer: { size: number; clone(size: number): { size: number }; skip(size: number): void }
  push(frame: unknown): boolean
  execute(content: unknown, next: (err: Error | null, frame?: unknown) => void): void
  executePartial(content: unknown, next: (err: Error | null, frame?: unknown) => void): void
  _consume(cb: Callback): void
}

const CALLBACK = Symbol('express-h2-push.parse-callback')
const SYNC = Symbol('express-h2-push.parse-sync')
const NEXT = Symbol('express-h2-push.parse-next')

type Parser = ParserInternals & {
  [CALLBACK]: Callback
  [SYNC]: boolean
  [NEXT]?: (err: Error | null, frame?: unknown) => void
}

function nextStep(this: Parser, err: Error | null, frame?: unknown): void {
  const cb = this[CALLBACK]
  if (err) return cb(err)
  if (Array.isArray(frame)) {
    for (let i = 0; i < frame.length; i++) this.push(frame[i])
  } else if (frame) {
    this.push(frame)
  }
  if (!this[SYNC]) return this._consume(cb)
  process.nextTick(consumeAgain, this, cb)
}

function consumeAgain(parser: Parser, cb: Callback): void {
  parser._consume(cb)
}

/** spdy-transport's `Parser#_consume`, with one bound `next` per parser. */
function consumeStep(this: Parser, cb: Callback): void {
  this[CALLBACK] = cb
  let next = this[NEXT]
  if (next === undefined) {
    next = nextStep.bind(this)
    this[NEXT] = next
  }
  if (this.dead) return cb()
  const buffer = this.buffer
  if (buffer.size < this.waiting) {
    // No data at all
    if (buffer.size === 0) return cb()
    // Partial DATA frame or something that can be processed partially: the next step follows at once, as before.
    if (this.partial) {
      const partial = buffer.clone(buffer.size)
      buffer.skip(partial.size)
      this.waiting -= partial.size
      this[SYNC] = false
      this.executePartial(partial, next)
      return
    }
    // Nothing until all the expected data is here.
    return cb()
  }
  this[SYNC] = true
  const content = buffer.clone(this.waiting)
  buffer.skip(this.waiting)
  this.execute(content, next)
  this[SYNC] = false
}

let ownConsume: unknown

/** spdy-transport's own `Parser#_consume`, as it was before installParseSteps: for comparing the two. */
export function parserOwnConsume(): unknown {
  return ownConsume
}

/** Makes spdy-transport's parsers (HTTP/2 and SPDY/3: they share the base Parser) take their steps with one bound `next`. */
export function installParseSteps(baseParserProto: Record<string, unknown>): void {
  if (baseParserProto['_consume'] === consumeStep) return
  ownConsume = baseParserProto['_consume']
  baseParserProto['_consume'] = consumeStep
}
