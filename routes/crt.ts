/**
 * GET /crt: the server's certificate (PEM) with a strong ETag and cache-control.
 */
import type { RequestHandler } from 'express'
import etag from 'etag'

export interface CrtResponse {
  readonly body: Buffer
  readonly headers: Readonly<Record<string, string>>
}

/** The /crt response, computed once: body and headers (content-type, length, etag, cache-control). */
export function crtResponse(certificate: string | Buffer): CrtResponse {
  const body = Buffer.from(certificate)
  return Object.freeze({
    body,
    headers: Object.freeze({
      'content-type': 'application/x-pem-file',
      'content-length': String(body.length),
      etag: etag(body),
      'cache-control': 'public, max-age=3600',
    }),
  })
}

export function crt(certificate: string | Buffer): RequestHandler {
  const { body, headers } = crtResponse(certificate)
  return function crtRoute(req, res) {
    res.set(headers)
    if (req.fresh) {
      res.status(304).end()
      return
    }
    res.status(200).end(req.method === 'HEAD' ? undefined : body)
  }
}
