/**
 * Requests and responses made with room for what Express adds to them.
 *
 * Express and its router give every request they route seven properties of their own
 * (`res`, `next`, `baseUrl`, `originalUrl`, `_parsedUrl` from parseurl, `params`, `route`)
 * and every response one (`locals`); the spdy layer adds its own members (`isSpdy`,
 * `spdyStream`, `res.push`...). An `http.IncomingMessage` or a node:http2
 * `Http2ServerRequest` has no room left for them in the object itself, so V8 keeps them in a
 * separate property array, grown and copied three fields at a time as they are added. In the
 * allocation profile of Express on spdy (`GET /crt`, h2load -c 20 -m 10) that was 7.5 KB of
 * the 57 KB allocated per request, charged to the router's `next` and `handle`; on
 * node:http2 about 4 KB.
 *
 * So the requests and responses the transports make, HTTP/2 and HTTP/1.1, are of classes that declare those
 * properties as fields, `undefined` until Express sets them, and V8 lays them out inside
 * the object from the start. Reading one before Express sets it gives `undefined`, as before;
 * the difference shows only to `Object.keys()`, `in` and `hasOwnProperty`, which list the
 * field from the start. `req.query` is not among them: Express 5 answers it from a getter
 * on its prototype, which an own field would hide.
 */

import { IncomingMessage, ServerResponse } from 'node:http'

// biome-ignore lint/suspicious/noExplicitAny: a mixin's base is any constructor
type Constructor = new (...args: any[]) => object

/** `Base` with fields for the properties Express and its router set on every request they route. */
export function withExpressRequestFields<T extends Constructor>(Base: T) {
  return class ExpressShapedRequest extends Base {
    res: unknown = undefined
    next: unknown = undefined
    baseUrl: unknown = undefined
    originalUrl: unknown = undefined
    _parsedUrl: unknown = undefined
    params: unknown = undefined
    route: unknown = undefined
  }
}

/** `Base` with a field for `res.locals`, which Express sets on every response it handles. */
export function withExpressResponseFields<T extends Constructor>(Base: T) {
  return class ExpressShapedResponse extends Base {
    locals: unknown = undefined
  }
}

/** Node's HTTP/1.1 request and response, shaped: for `http.createServer`'s `IncomingMessage` / `ServerResponse` options (node:http2's `Http1IncomingMessage` / `Http1ServerResponse`). */
export const ShapedIncomingMessage = withExpressRequestFields(IncomingMessage)
export const ShapedServerResponse = withExpressResponseFields(ServerResponse)
