/**
 * What the push middleware reports: one event per push, skip and cancel, and the
 * counters they add up to.
 */
import type { PushManifestError } from '../errors.js'

/** Why an entry was not pushed. */
export type SkipReason =
  /** the entry says `"nopush": true` */
  | 'nopush'
  /** a dotfile URL (`/.env`), which express.static does not serve: not pushed nor preloaded unless `dotfiles: 'allow'` */
  | 'dotfile'
  /** the client cannot take a push here: HTTP/1.1, SETTINGS_ENABLE_PUSH = 0, GOAWAY */
  | 'push-unsupported'
  /** HEAD request: Link headers only */
  | 'method'
  /** the URL is the request's own */
  | 'same-url'
  /** the client has it: pushed before on this connection, or listed in its cache digest cookie */
  | 'cached'
  /** the request is conditional (If-None-Match, If-Modified-Since): a 304 is likely, and the client has the page's assets */
  | 'conditional'
  /** more entries than `maxPushesPerResponse`, or `maxPushesPerConnection` pushes in flight on the connection */
  | 'limit'
  /** it would pass `maxPushBytes` or `maxPushBytesPerConnection` */
  | 'bytes'
  /** no such file, and the app answered 404 */
  | 'not-found'
  /** the app answered another status than 200 */
  | 'status'
  /** the app's response may not be cached (no-store, private, Set-Cookie, Vary: *) */
  | 'not-cacheable'
  /** the app did not answer within `dispatchTimeout` */
  | 'timeout'
  /** the transport refused the PUSH_PROMISE */
  | 'refused'
  /** producing the response failed */
  | 'error'
  /** promised, then reset before its response went out: the page's response was an error (>= 400) or a 304 */
  | 'parent-status'

export type PushEvent =
  | { readonly type: 'pushed'; readonly url: string; readonly parent: string; readonly bytes: number }
  /** `behindProxy`: the edge in front was asked to push it (a Link without `nopush`), and the digest records it. */
  | { readonly type: 'asked-edge'; readonly url: string; readonly parent: string; readonly bytes: number }
  | { readonly type: 'skipped'; readonly url: string; readonly parent: string; readonly reason: SkipReason; readonly detail?: string }
  | { readonly type: 'cancelled'; readonly url: string; readonly parent: string; readonly bytes: number; readonly reason: string }
  | { readonly type: 'reloaded'; readonly file: string }
  | { readonly type: 'reload-failed'; readonly file: string; readonly error: PushManifestError }

export interface PushStats {
  /** Pushed responses sent in full. */
  pushed: number
  /** `behindProxy`: resources the edge was asked to push. */
  askedEdge: number
  /** Body bytes of those pushes. */
  bytes: number
  /** Promised pushes reset by the client or cut by the connection. */
  cancelled: number
  /** Entries not pushed, by reason. */
  skipped: Record<SkipReason, number>
}

export function emptyStats(): PushStats {
  return {
    pushed: 0,
    askedEdge: 0,
    bytes: 0,
    cancelled: 0,
    skipped: {
      nopush: 0,
      dotfile: 0,
      'push-unsupported': 0,
      method: 0,
      'same-url': 0,
      cached: 0,
      conditional: 0,
      limit: 0,
      bytes: 0,
      'not-found': 0,
      status: 0,
      'not-cacheable': 0,
      timeout: 0,
      refused: 0,
      error: 0,
      'parent-status': 0,
    },
  }
}
