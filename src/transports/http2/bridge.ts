/**
 * Express 5 on Node's own http2 server (`http2.createSecureServer({ allowHTTP1: true })`).
 *
 * Express re-prototypes every request and response onto `app.request`/`app.response`
 * (and a mounted sub-app onto its own), which inherit from `http.IncomingMessage` /
 * `http.ServerResponse`: an HTTP/2 request (an `Http2ServerRequest`) then loses its own
 * methods and the first read crashes. For an Express app, a layer under Express's own
 * `request`/`response` answers node:http2's members for the HTTP/2 requests and responses
 * the bridge marks (compat-layer.ts: once per process, nothing copied per request); for
 * any other listener, each HTTP/2 request and response gets the members of
 * `Http2ServerRequest.prototype` / `Http2ServerResponse.prototype` as its own properties.
 * Either way, whatever prototype Express puts behind them, `req`/`res` keep Express's API
 * (`req.params`, `res.json`, `res.sendFile`, ...) over the HTTP/2 compatibility API. A request whose
 * Host header names another host than its :authority is answered 400 (`oneAuthority`).
 * A request without a body ends with END_STREAM, never a reset before it (`requestClosesAfterEndStream`).
 * HTTP/1.1 requests go to the app unchanged.
 */
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { H2PushError } from '../../errors.js'
import { markBodyOfUnknownLength } from '../../compat/request-body.js'
import { ownMembers } from '../../own-members.js'
import { oneAuthority } from '../authority.js'
import { requestClosesAfterEndStream } from './end-stream.js'
import { layerUnderExpress, markHttp2 } from './compat-layer.js'
import { writeHeadWithoutConnectionFields } from './connection-fields.js'

const REQUEST_MEMBERS = ownMembers(http2.Http2ServerRequest.prototype)
const RESPONSE_MEMBERS: PropertyDescriptorMap = {
  ...ownMembers(http2.Http2ServerResponse.prototype),
  // node:http2's writeHead without connection-specific fields (connection-fields.ts).
  writeHead: { value: writeHeadWithoutConnectionFields, writable: true, configurable: true, enumerable: false },
}

export type Http2RequestListener = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void

/**
 * The request listener for `http2.createSecureServer({ allowHTTP1: true }, ...)` that
 * serves `app` (Express 5, sub-apps included) over HTTP/2 and HTTP/1.1.
 */
export function expressOverHttp2(app: (req: IncomingMessage, res: ServerResponse) => void): Http2RequestListener {
  if ((app as { lazyrouter?: unknown }).lazyrouter !== undefined) {
    throw new H2PushError(
      'ERR_H2PUSH_INVALID_OPTION',
      "createServer: transport 'http2' needs Express 5 (Express 4 calls HTTP/1-only internals on every request); use transport 'spdy' with Express 4",
    )
  }
  const layered = layerUnderExpress(app as { request?: unknown; response?: unknown })
  return function expressOverHttp2Listener(req, res) {
    if (req.httpVersionMajor === 2) {
      if (layered) {
        markHttp2(req)
        markHttp2(res)
      } else {
        Object.defineProperties(req, REQUEST_MEMBERS)
        Object.defineProperties(res, RESPONSE_MEMBERS)
      }
      const headers = req.headers
      // HTTP/2 names the host :authority; Express (req.hostname, req.host) reads Host: one value for both, or 400.
      if (!oneAuthority(headers[':authority'], headers, res)) return
      const stream = (req as Http2ServerRequest).stream
      markBodyOfUnknownLength(headers, !stream.endAfterHeaders)
      // Without a body to read, Node would reset the stream before an END_STREAM held by flow control.
      if (stream.endAfterHeaders) requestClosesAfterEndStream(stream)
    }
    app(req as IncomingMessage, res as ServerResponse)
  }
}

/** Whether `res` is a node:http2 response (also once Express has re-prototyped it). */
export function isNodeHttp2Response(res: object): res is Http2ServerResponse {
  const stream = (res as { stream?: { pushStream?: unknown } }).stream
  return typeof stream?.pushStream === 'function'
}
