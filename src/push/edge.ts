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
import { serialize as serializeCookie } from 'cookie'
import { pushRequestHeaders } from '../transports/pusher.js'
import { sendEarlyHints } from '../transports/early-hints.js'
import { cacheKey, CacheDigest } from '../cache/digest.js'
import { isConditional } from './decide.js'
import { load, pushableParentStatus, readDigest, skip, type PreparedEntry, type PushSettings, type Report } from './plan.js'

const debug = createDebug('express-h2-push:push')

function withNopush(link: string): string {
  return /;\s*nopush\s*(;|$)/i.test(link) ? link : `${link}; nopush`
}

/** Links the entries of one HTTP/1.1 request for the edge in front: to push, or `nopush`. */
export async function askEdge(req: Request, res: Response, entries: readonly PreparedEntry[], settings: PushSettings, report: Report): Promise<void> {
  const parent = req.path
  const conditional = isConditional(req.headers)
  const requestHeaders = pushRequestHeaders('/', req.headers, undefined)
  const digest = readDigest(req, settings)
  // Started together, awaited in order; none rejects.
  const loads = entries.map((entry) =>
    entry.nopush || entry.dotfile || conditional || entry.url === req.path || entry.url === req.originalUrl
      ? undefined
      : load(entry, req, requestHeaders, settings),
  )
  const links: string[] = []
  let asked = 0
  let bytes = 0
  for (const [i, entry] of entries.entries()) {
    const loading = loads[i]
    if (entry.dotfile) skip(report, undefined, entry, parent, 'dotfile', 'a dotfile (the `dotfiles` option)')
    else if (entry.nopush) skip(report, links, entry, parent, 'nopush')
    else if (entry.url === req.path || entry.url === req.originalUrl) skip(report, undefined, entry, parent, 'same-url')
    else if (conditional || !loading) {
      skip(report, undefined, entry, parent, 'conditional', 'If-None-Match or If-Modified-Since: the client revalidates a page it has')
      links.push(withNopush(entry.link))
    } else {
      const result = await loading
      if (!result.ok) {
        skip(report, undefined, entry, parent, result.reason, result.detail)
        if (result.reason !== 'not-found' && result.reason !== 'status') links.push(withNopush(entry.link))
        continue
      }
      result.response.release?.()
      const { size, headers } = result.response
      const key = cacheKey(entry.url, headers['etag'], headers['last-modified'])
      let refusal: [Parameters<typeof skip>[4], string] | undefined
      if (digest?.honoured && digest.digest.has(key)) refusal = ['cached', 'listed in the cache digest cookie']
      else if (asked >= settings.maxPushesPerResponse) refusal = ['limit', `maxPushesPerResponse ${settings.maxPushesPerResponse}`]
      else if (bytes + size > settings.maxPushBytes) refusal = ['bytes', `${size} bytes, ${settings.maxPushBytes - bytes} left for this response`]
      if (refusal) {
        skip(report, undefined, entry, parent, refusal[0], refusal[1])
        links.push(withNopush(entry.link))
        continue
      }
      asked++
      bytes += size
      links.push(entry.link)
      if (digest) {
        if (!digest.digest.add(key)) {
          digest.digest = new CacheDigest(digest.digest.shape)
          digest.digest.add(key)
        }
        digest.dirty = true
      }
      debug('ask the edge to push %s for %s (%d bytes)', entry.url, parent, size)
      report({ type: 'asked-edge', url: entry.url, parent, bytes: size })
    }
  }
  if (res.headersSent || links.length === 0) return
  // Only when asked ('always'): nginx 1.22 takes a 103 from the app for the final response
  // (it pushes its links and never passes on the 200), H2O 2.2.5 drops it.
  if (settings.earlyHints === 'always' && sendEarlyHints(res, links, 'always')) debug('103 Early Hints for %s (behind a proxy): %s', parent, links.join(', '))
  onHeaders(res, function linksForTheEdge(this: Response) {
    if (!pushableParentStatus(this.statusCode)) return
    const config = settings.cacheDigest
    if (digest?.dirty && config) {
      this.append(
        'Set-Cookie',
        serializeCookie(config.cookieName, digest.digest.encode(), { secure: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: config.maxAge }),
      )
    }
    if (settings.preloadHeader) this.append('Link', links.join(', '))
  })
}
