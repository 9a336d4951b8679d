/**
 * Express 5 on Node's own http2 server (`http2.createSecureServer({ allowHTTP1: true })`).
 *
 * Express re-prototypes every request and response onto `app.request`/`app.response`,
 * which inherit from `http.IncomingMessage`/`http.ServerResponse`: an HTTP/2 request
 * (an `Http2ServerRequest`) then loses its own methods and the first read crashes.
 * Here, per app and once, Express's request/response methods are layered over
 * `Http2ServerRequest`/`Http2ServerResponse`, and HTTP/2 requests are handled by an
 * object that inherits from the app but carries those prototypes. `req`/`res` keep
 * Express's API (`req.params`, `req.query`, `res.json`, `res.sendFile`, ...) with the
 * HTTP/2 compatibility API underneath. HTTP/1.1 requests go to the app unchanged.
 */
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { H2PushError } from '../../errors.js'
import { markBodyOfUnknownLength } from '../request-body.js'

interface ExpressApp {
  (req: IncomingMessage, res: ServerResponse): void
  request: object
  response: object
  handle(req: unknown, res: unknown, next?: (err?: unknown) => void): void
}

function layered(base: object, ...sources: object[]): object {
  const proto = Object.create(base) as object
  for (const source of sources) Object.defineProperties(proto, Object.getOwnPropertyDescriptors(source))
  return proto
}

function isExpressApp(app: unknown): app is ExpressApp {
  if (typeof app !== 'function') return false
  const candidate = app as unknown as Partial<ExpressApp>
  return typeof candidate.handle === 'function' && typeof candidate.request === 'object'
}

export type Http2RequestListener = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void

/**
 * The request listener for `http2.createSecureServer({ allowHTTP1: true }, ...)` that
 * serves `app` over HTTP/2 and HTTP/1.1. Works with Express 5; any other request
 * listener is returned as it is (it gets the HTTP/2 compatibility API).
 */
export function expressOverHttp2(app: (req: IncomingMessage, res: ServerResponse) => void): Http2RequestListener {
  if (!isExpressApp(app)) return app as Http2RequestListener
  if ((app as { lazyrouter?: unknown }).lazyrouter !== undefined) {
    throw new H2PushError(
      'ERR_H2PUSH_INVALID_OPTION',
      "createServer: transport 'http2' needs Express 5 (Express 4 re-prototypes HTTP/2 requests in a way that cannot be bridged); use transport 'spdy' with Express 4",
    )
  }
  const request = layered(http2.Http2ServerRequest.prototype, Object.getPrototypeOf(app.request) as object, app.request)
  const response = layered(http2.Http2ServerResponse.prototype, Object.getPrototypeOf(app.response) as object, app.response)
  const dispatcher = Object.create(app, { request: { value: request }, response: { value: response } }) as ExpressApp
  return function expressOverHttp2Listener(req, res) {
    if (req.httpVersionMajor !== 2) {
      app(req as IncomingMessage, res as ServerResponse)
      return
    }
    // HTTP/2 names the host :authority; Express (req.hostname, req.host) reads Host.
    const headers = req.headers
    const authority = headers[':authority']
    if (headers.host === undefined && typeof authority === 'string') headers.host = authority
    markBodyOfUnknownLength(headers, !(req as Http2ServerRequest).stream.endAfterHeaders)
    dispatcher.handle(req, res)
  }
}
