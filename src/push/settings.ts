/**
 * What the push paths share: the settings one middleware pushes with, a manifest entry
 * as the request path takes it, and how events are reported.
 */
import type { CompiledEntry } from '../manifest/load.js'
import type { DigestShape } from '../cache/digest.js'
import type { ConnectionBudgets } from './connection-budget.js'
import type { PushEvent } from './events.js'
import type { FileSource } from './sources.js'
import type { EarlyHintsMode } from '../transports/early-hints.js'

export interface PreparedEntry extends CompiledEntry {
  /** The file under `root` that serves this URL, when one may. */
  readonly file: string | undefined
  /** A dotfile URL, never pushed nor preloaded (the `dotfiles` option). */
  readonly dotfile: boolean
  /** A file URL under `root` with no file there when the manifest was loaded: not hinted where it cannot be pushed. */
  readonly missing?: boolean
}

export interface PushSettings {
  readonly maxPushesPerResponse: number
  readonly maxPushBytes: number
  readonly preloadHeader: boolean
  readonly cacheControl: string
  /** This middleware's files under `root` and what it keeps of them. */
  readonly files: FileSource
  /** ms a file's stat (headers, body) is reused between pushes. */
  readonly fileRecheckMs: number
  readonly dispatchTimeout: number
  readonly earlyHints: EarlyHintsMode
  /** Entries remembered per connection. */
  readonly diarySize: number
  /** Pushed streams in flight per connection. */
  readonly maxPushesPerConnection: number
  /** Body bytes of pushes in flight per connection. */
  readonly maxPushBytesPerConnection: number
  /** HTTP/1.1 requests come from an edge that pushes what the Link header lists (`askEdge`). */
  readonly behindProxy: boolean
  /** Headers of the parent response (lower case) that pushed responses inherit when set before the middleware runs. */
  readonly inheritHeaders: ReadonlySet<string>
  /** ms without progress before a pushed stream is reset. */
  readonly pushTimeout: number
  /** The cache digest cookie, or false for none. */
  readonly cacheDigest: false | DigestCookieSettings
}

export interface DigestCookieSettings {
  readonly cookieName: string
  readonly maxAge: number
  readonly shape: DigestShape
}

export type Report = (event: PushEvent) => void

/** One middleware's push engine: built once, shared by every request it pushes for. */
export interface PushEngine {
  readonly settings: PushSettings
  readonly budgets: ConnectionBudgets
  readonly report: Report
}
