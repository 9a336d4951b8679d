/**
 * The cache digest cookie of one request: read from its Cookie header, added to as
 * pushes are promised (or, behind a proxy, asked of the edge), and written back with
 * the response's headers when something was added. The one place that writes it.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Request, Response } from 'express'
import { parse as parseCookies, serialize as serializeCookie } from 'cookie'
import { CacheDigest } from '../cache/digest.js'
import type { DigestCookieSettings, PushSettings } from './settings.js'

/** A hard reload (Cache-Control / Pragma: no-cache) asks for everything again. */
function hardReload(headers: IncomingHttpHeaders): boolean {
  return /(^|[\s,])no-cache([\s,]|$)/i.test(String(headers['cache-control'] ?? '')) || /no-cache/i.test(String(headers['pragma'] ?? ''))
}

export interface DigestState {
  digest: CacheDigest
  /** The cookie must be (re)written: something was added, or the one sent was not a digest. */
  dirty: boolean
  /** Whether to skip what the digest lists (not on a hard reload). */
  honoured: boolean
}

/** The request's digest, or undefined when the middleware keeps none. */
export function readDigest(req: Request, settings: PushSettings): DigestState | undefined {
  const config = settings.cacheDigest
  if (!config) return undefined
  let raw: string | undefined
  try {
    raw = req.headers.cookie ? parseCookies(req.headers.cookie)[config.cookieName] : undefined
  } catch {
    raw = ''
  }
  const decoded = raw === undefined ? undefined : CacheDigest.decode(raw, config.shape)
  return { digest: decoded ?? new CacheDigest(config.shape), dirty: raw !== undefined && decoded === undefined, honoured: !hardReload(req.headers) }
}

/** What the digest lists, when it is to be honoured (not on a hard reload). */
export function digestLookup(state: DigestState | undefined): ((key: string) => boolean) | undefined {
  return state?.honoured ? (key) => state.digest.has(key) : undefined
}

/** Records a key; a full digest starts again with it. */
export function recordInDigest(state: DigestState, key: string): void {
  if (!state.digest.add(key)) {
    state.digest = new CacheDigest(state.digest.shape)
    state.digest.add(key)
  }
  state.dirty = true
}

/** Appends the Set-Cookie for the digest when something changed (called as the response's headers are written). */
export function writeDigestCookie(res: Response, state: DigestState | undefined, config: false | DigestCookieSettings): void {
  if (!state?.dirty || !config) return
  res.append(
    'Set-Cookie',
    serializeCookie(config.cookieName, state.digest.encode(), { secure: true, httpOnly: true, sameSite: 'lax', path: '/', maxAge: config.maxAge }),
  )
}
