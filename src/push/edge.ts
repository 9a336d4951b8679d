/**
 * `behindProxy`: an edge (H2O, nginx, Apache, a CDN) terminates TLS and HTTP/2 and
 * speaks HTTP/1.1 to the app; it pushes what the response's `Link: rel=preload` header
 * lists, unless a link says `nopush`. So the app decides what the edge pushes: each
 * entry the client's cache digest already holds is linked with `nopush` (a returning
 * visitor is not pushed it again, its browser preloads it from cache), the others are
 * linked for the edge to push and recorded in the digest cookie, within the same
 * per-response limits as pushes. A 103 with the same links goes out over HTTP/1.1 only
 * with `earlyHints: 'always'`, for edges that forward it (nginx 1.22 mistakes it for the
 * final response). Nothing of it for a response that is not a success.
 */
import type { Request, Response } from 'express'
import onHeaders from 'on-headers'
import createDebug from 'debug'
import { pushRequestHeaders } from '../transports/pusher.js'
import { sendEarlyHints } from '../transports/early-hints.js'
import { cacheKey } from '../cache/digest.js'
import { edgeRefusalOf, entrySkip, isConditional, pushableParentStatus, SKIP } from './decide.js'
import { digestLookup, readDigest, recordInDigest, writeDigestCookie } from './digest-cookie.js'
import { load } from './produce.js'
import { RequestPush } from './request-push.js'
import type { PreparedEntry, PushEngine } from './settings.js'

const debug = createDebug('express-h2-push:push')

function withNopush(link: string): string {
  return /;\s*nopush\s*(;|$)/i.test(link) ? link : `${link}; nopush`
}

/** Links the entries of one HTTP/1.1 request for the edge in front: to push, or `nopush`. */
export async function askEdge(engine: PushEngine, req: Request, res: Response, entries: readonly PreparedEntry[]): Promise<void> {
  const { settings, report } = engine
  // What is not asked of the edge is still linked, with `nopush`, where a skip is hinted.
  const push = new RequestPush(req, res, engine, { hints: true, hintOf: (entry) => withNopush(entry.link) })
  const links = push.hints!
  const can = { push: true, conditional: isConditional(req.headers) }
  const requestHeaders = pushRequestHeaders('/', req.headers, undefined)
  const digest = readDigest(req, settings)
  // Started together, awaited in order; none rejects.
  const loads = entries.map((entry) => (entrySkip(entry, req, can) ? undefined : load(entry, req, requestHeaders, settings)))
  let asked = 0
  let bytes = 0
  for (const [i, entry] of entries.entries()) {
    const loading = loads[i]
    if (!loading) {
      push.skip(entry, entrySkip(entry, req, can)!)
      continue
    }
    const result = await loading
    if (!result.ok) {
      push.skip(entry, SKIP.notProduced(result.reason, result.detail))
      continue
    }
    result.response.release?.()
    const { size, headers } = result.response
    const key = cacheKey(entry.url, headers['etag'], headers['last-modified'])
    const refusal = edgeRefusalOf(key, size, {
      digestHas: digestLookup(digest),
      asked,
      maxPushesPerResponse: settings.maxPushesPerResponse,
      bytesLeft: settings.maxPushBytes - bytes,
    })
    if (refusal) {
      push.skip(entry, refusal)
      continue
    }
    asked++
    bytes += size
    links.push(entry.link)
    if (digest) recordInDigest(digest, key)
    debug('ask the edge to push %s for %s (%d bytes)', entry.url, push.parent, size)
    report({ type: 'asked-edge', url: entry.url, parent: push.parent, bytes: size })
  }
  if (res.headersSent || links.length === 0) return
  // Only when asked ('always'): nginx 1.22 takes a 103 from the app for the final response
  // (it pushes its links and never passes on the 200), H2O 2.2.5 drops it.
  if (settings.earlyHints === 'always' && sendEarlyHints(res, links, 'always'))
    debug('103 Early Hints for %s (behind a proxy): %s', push.parent, links.join(', '))
  onHeaders(res, function linksForTheEdge(this: Response) {
    if (!pushableParentStatus(this.statusCode)) return
    writeDigestCookie(this, digest, settings.cacheDigest)
    if (settings.preloadHeader) this.append('Link', links.join(', '))
  })
}
