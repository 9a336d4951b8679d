/**
 * The request and response classes of spdy's direct HTTP/2 requests (direct-requests.ts):
 * Node's own, with fields for what Express adds (../../transports/shaped-messages.ts) and for
 * the members this layer gives every request and response, so that none of them grows the
 * object after it is made.
 */
import { IncomingMessage, ServerResponse } from 'node:http'
import { withExpressRequestFields, withExpressResponseFields, withStatusCodeField } from '../../transports/shaped-messages.js'

// biome-ignore lint/suspicious/noExplicitAny: the fields below shadow members Node's types declare as methods
type Constructor = new (...args: any[]) => object

export class DirectRequest extends withExpressRequestFields(IncomingMessage as unknown as Constructor) {
  /**
   * Node's Readable starts an emitter's listener table itself and leaves `_eventsCount` to
   * EventEmitter.prototype's 0, so the first listener added makes it an own property. On a
   * request Express has re-prototyped, Node 20's V8 then gives that request a map (and a
   * 0.9 KB descriptor array) of its own; as a field from the start, every request keeps
   * sharing one.
   */
  _eventsCount: number = (this as unknown as { _eventsCount?: number })._eventsCount ?? 0
  isSpdy: unknown = undefined
  spdyVersion: unknown = undefined
  spdyStream: unknown = undefined
}

export class DirectResponse extends withStatusCodeField(withExpressResponseFields(ServerResponse as unknown as Constructor)) {
  isSpdy: unknown = undefined
  spdyVersion: unknown = undefined
  spdyStream: unknown = undefined
  _req: unknown = undefined
  writeHead: unknown = undefined
  end: unknown = undefined
  push: unknown = undefined
  writeEarlyHints: unknown = undefined
  writeContinue: unknown = undefined
  addTrailers: unknown = undefined
}
