/**
 * Requests and responses made with room for what Express adds to them.
 *
 * Express and its router give every request they route eight properties of their own
 * (`res`, `next`, `baseUrl`, `originalUrl`, `_parsedUrl` from parseurl, `params`, `route`,
 * and the router's `matchedRoute` symbol) and every response one or two (`locals`, and
 * `statusCode` on Node's `ServerResponse`, whose default sits on its prototype); the spdy layer adds its own members (`isSpdy`,
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
import { createRequire } from 'node:module'

/**
 * The symbol Express 5's router (2.2+) sets on every request it routes (`req[matchedRoute]`,
 * its tracing), as the installed Express resolves it; a symbol of our own when there is none.
 */
function routerMatchedRoute(): symbol {
  try {
    const fromExpress = createRequire(createRequire(import.meta.url).resolve('express'))
    const { matchedRoute } = fromExpress('router/lib/symbols') as { matchedRoute?: unknown }
    if (typeof matchedRoute === 'symbol') return matchedRoute
  } catch {
    // No Express, or a router without the symbol: nothing to make room for.
  }
  return Symbol('express-h2-push.no-matched-route')
}

const MATCHED_ROUTE = routerMatchedRoute()

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
    route: unknown = undefined;
    [MATCHED_ROUTE]: unknown = undefined
  }
}

/** `Base` with a field for `res.locals`, which Express sets on every response it handles. */
export function withExpressResponseFields<T extends Constructor>(Base: T) {
  return class ExpressShapedResponse extends Base {
    locals: unknown = undefined
  }
}

/**
 * `Base` (Node's `ServerResponse`) with a field for `statusCode`: Node keeps its default (200)
 * on the prototype, and Express's `res.status()` sets it on the response.
 */
export function withStatusCodeField<T extends Constructor>(Base: T) {
  return class StatusCodeResponse extends Base {
    statusCode = 200
  }
}

/** Node's HTTP/1.1 request and response, shaped: for `http.createServer`'s `IncomingMessage` / `ServerResponse` options (node:http2's `Http1IncomingMessage` / `Http1ServerResponse`). */
export const ShapedIncomingMessage = withExpressRequestFields(IncomingMessage)
export const ShapedServerResponse = withStatusCodeField(withExpressResponseFields(ServerResponse))
