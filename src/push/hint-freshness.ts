/**
 * A development check on the assets the middleware hints with 103 Early Hints: Chromium
 * keeps an early-hints preload in its HTTP cache and reuses it for the page only while it
 * is fresh, so an asset served with `Cache-Control: max-age=0` (express.static's default),
 * `no-cache`, `no-store` or no lifetime at all is fetched a second time and the hint buys
 * nothing. The middleware never produces those responses itself: it watches the asset's
 * own response when a client requests a hinted URL through the same app (a Set lookup of
 * the URL; on-headers reads the headers the app really sends), and warns once per asset.
 * Off (not even constructed) unless asked for: `warnStaleHints`, on by default outside
 * production.
 */
import type { OutgoingHttpHeader, ServerResponse } from 'node:http'
import type { Request, Response } from 'express'
import onHeaders from 'on-headers'
import type { CompiledManifest } from '../manifest/load.js'
import { isDispatched } from './dispatch.js'
import { headerText } from './header-text.js'

/** Whether a response stays fresh in a browser cache, and if not, why. */
export type Freshness = { readonly fresh: true } | { readonly fresh: false; readonly reason: string }

/**
 * Freshness as a private (browser) cache computes it (RFC 9111 §4.2) from the response's
 * own headers: `no-store` / `no-cache` never reuse, `max-age` wins over `Expires`, `Age`
 * counts against either. A response without an explicit lifetime counts as not fresh:
 * heuristic freshness (from Last-Modified) is up to the browser and near zero for a file
 * just edited.
 */
export function responseFreshness(headers: {
  readonly cacheControl?: OutgoingHttpHeader | undefined
  readonly expires?: OutgoingHttpHeader | undefined
  readonly date?: OutgoingHttpHeader | undefined
  readonly age?: OutgoingHttpHeader | undefined
}): Freshness {
  const cacheControl = headerText(headers.cacheControl)
  const shown = `Cache-Control ${JSON.stringify(cacheControl ?? '')}`
  const directives = new Map<string, string | undefined>()
  for (const part of (cacheControl ?? '').split(',')) {
    const [name = '', value] = part.split('=', 2).map((s) => s.trim())
    if (name) directives.set(name.toLowerCase(), value?.replace(/^"(.*)"$/, '$1'))
  }
  if (directives.has('no-store')) return { fresh: false, reason: `${shown}: no-store, never stored` }
  if (directives.has('no-cache')) return { fresh: false, reason: `${shown}: no-cache, revalidated before any reuse` }
  const age = Number(headerText(headers.age) ?? 0) || 0
  const maxAge = directives.get('max-age')
  if (maxAge !== undefined) {
    const seconds = /^\d+$/.test(maxAge) ? Number(maxAge) : 0
    return seconds > age ? { fresh: true } : { fresh: false, reason: `${shown}: a lifetime of ${seconds} s` }
  }
  const expires = headerText(headers.expires)
  if (expires !== undefined) {
    const date = Date.parse(headerText(headers.date) ?? '') || Date.now()
    const lifetime = (Date.parse(expires) - date) / 1000
    return lifetime > age ? { fresh: true } : { fresh: false, reason: `Expires ${JSON.stringify(expires)} is not in the future` }
  }
  return { fresh: false, reason: `${cacheControl === undefined ? 'no Cache-Control' : shown} and no Expires: no explicit lifetime` }
}

/** Watches the responses to hinted URLs and warns once per stale asset. */
export class HintFreshness {
  /** Hinted URL (as requested, path and query) → the manifest routes that list it. */
  #hinted = new Map<string, string[]>()
  readonly #warned = new Set<string>()

  /** The hinted URLs of a (re)loaded manifest; `hinted` tells which entries may be hinted (dotfiles are not). */
  update(compiled: CompiledManifest, hinted: (url: string) => boolean): void {
    const next = new Map<string, string[]>()
    for (const route of compiled.routes) {
      for (const entry of route.entries) {
        if (!hinted(entry.url)) continue
        const routes = next.get(entry.url)
        if (routes === undefined) next.set(entry.url, [route.key])
        else if (!routes.includes(route.key)) routes.push(route.key)
      }
    }
    this.#hinted = next
  }

  /** For every request through the middleware: if a client asks for a hinted asset, check the response it gets (pushes are not for browsers). */
  observe(req: Request, res: Response): void {
    if (req.method !== 'GET' || isDispatched(req)) return
    const url = req.originalUrl
    const routes = this.#hinted.get(url)
    if (routes === undefined || this.#warned.has(url)) return
    const warned = this.#warned
    onHeaders(res, function checkHintedFreshness(this: ServerResponse) {
      if ((this.statusCode !== 200 && this.statusCode !== 304) || warned.has(url)) return
      const freshness = responseFreshness({
        cacheControl: this.getHeader('cache-control'),
        expires: this.getHeader('expires'),
        date: this.getHeader('date'),
        age: this.getHeader('age'),
      })
      if (freshness.fresh) return
      warned.add(url)
      console.warn(staleHintWarning(url, routes, freshness.reason))
    })
  }
}

function staleHintWarning(url: string, routes: readonly string[], reason: string): string {
  const where = routes.map((route) => JSON.stringify(route)).join(', ')
  return (
    `express-h2-push: ${JSON.stringify(url)} is sent as a 103 Early Hint (manifest route ${where}) but its response is not fresh (${reason}); ` +
    'Chromium reuses an early-hints preload only while it is fresh, so the page fetches it again. ' +
    "Fix: serve it with a positive max-age, e.g. express.static(root, { maxAge: '1h' }), or { maxAge: '1y', immutable: true } for fingerprinted file names " +
    '(this check runs outside production; warnStaleHints: false turns it off)'
  )
}

type Handler = (req: Request, res: Response, next: (err?: unknown) => void) => void

/** `handler`, checking the freshness of hinted assets on the way (composed once, at construction). */
export function observingHints<H extends Handler>(handler: H, freshness: HintFreshness): H {
  return function pushManifestMiddleware(req: Request, res: Response, next: (err?: unknown) => void): void {
    freshness.observe(req, res)
    handler(req, res, next)
  } as H
}
