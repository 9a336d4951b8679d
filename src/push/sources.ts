/**
 * Where a pushed body comes from: a file under `root` (with type, length, ETag,
 * Last-Modified and Cache-Control, read as express.static reads the URL), else the
 * Express app itself (a dispatched GET). Only a cacheable 200 is pushed.
 */
import type { Stats } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import { pipeline, Transform, type Readable } from 'node:stream'
import etag from 'etag'
import { contentType } from 'mime-types'
import { dispatchGet, type DispatchedResponse } from './dispatch.js'
import { headerText } from './header-text.js'
import type { SkipReason } from './events.js'

export interface PushableResponse {
  /** Headers that describe `body()`: from the same in-memory buffer, or from the open file it streams. */
  readonly headers: OutgoingHttpHeaders
  readonly size: number
  /** The body, once: a file's stream owns its descriptor (destroying the stream closes it). */
  body(): Buffer | Readable
  /** Closes what a response not sent holds open (a file's descriptor); nothing once `body()` was taken. */
  release?(): void
}

export type LoadResult = { ok: true; response: PushableResponse } | { ok: false; reason: SkipReason; detail: string }

/** What `root` does with a URL that has a segment starting with "." (express.static's `dotfiles`). */
export type Dotfiles = 'allow' | 'deny' | 'ignore'

/** A ".." segment, with either slash (as `send` tests it). */
const UP_PATH = /(?:^|[\\/])\.\.(?:[\\/]|$)/

/**
 * The path `url` names under a static root, as express.static (`send`) reads it:
 * percent-decoded (so `%2f` is a slash), normalized, relative; undefined where it
 * answers 400 or 403 (bad encoding, a NUL, a ".." that climbs out).
 */
function staticPath(url: string): string | undefined {
  let pathname: string
  try {
    pathname = decodeURIComponent(url.split(/[?#]/, 1)[0]!)
  } catch {
    return undefined
  }
  if (pathname.includes('\0')) return undefined
  const path = normalize('.' + sep + pathname)
  return UP_PATH.test(path) ? undefined : path
}

/** Whether express.static takes `url` for a dotfile: a decoded, normalized segment starting with "." (`/.env`, `/css%2f..%2f.env`). */
export function namesDotfile(url: string): boolean {
  const path = staticPath(url)
  return path?.split(sep).some((part) => part.length > 1 && part[0] === '.') === true
}

/**
 * The file under `root` that serves `url`, as express.static would serve it, or
 * undefined when it would not (a dotfile unless `dotfiles` is 'allow', a refused path, a
 * folder URL). Computed at load.
 */
export function fileUnderRoot(root: string, url: string, dotfiles: Dotfiles = 'ignore'): string | undefined {
  const path = staticPath(url)
  if (path === undefined || path.endsWith(sep) || path === '.') return undefined
  if (dotfiles !== 'allow' && namesDotfile(url)) return undefined
  const file = join(root, path)
  return file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : undefined
}

/** Files up to this size are kept in memory between pushes (until their size or mtime changes). */
const SMALL_FILE = 64 * 1024
const SMALL_FILES_KEPT = 256

function sameFile(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs
}

function fileHeaders(file: string, stats: Stats, cacheControl: string): OutgoingHttpHeaders {
  return {
    'content-type': contentType(extname(file)) || 'application/octet-stream',
    'content-length': String(stats.size),
    etag: etag(stats),
    'last-modified': stats.mtime.toUTCString(),
    'cache-control': cacheControl,
  }
}

async function closeQuietly(handle: FileHandle): Promise<void> {
  try {
    await handle.close()
  } catch {
    // already closed
  }
}

/** Opens `file` and fstats that descriptor: the stat describes what this descriptor reads. */
async function openFile(file: string): Promise<{ handle: FileHandle; stats: Stats } | undefined> {
  let handle: FileHandle
  try {
    handle = await open(file, 'r')
  } catch {
    return undefined
  }
  try {
    const stats = await handle.stat()
    if (stats.isFile()) return { handle, stats }
  } catch {
    // reported as not a file
  }
  await closeQuietly(handle)
  return undefined
}

/**
 * A small file's body with the stat of the descriptor it was read from (kept until the
 * file's stat changes), or undefined when it changed size while read (it is streamed then).
 */
async function smallFile(
  smallFiles: Map<string, { stats: Stats; body: Buffer }>,
  file: string,
  pathStats: Stats,
): Promise<{ stats: Stats; body: Buffer } | undefined> {
  const kept = smallFiles.get(file)
  if (kept && sameFile(kept.stats, pathStats)) return kept
  const opened = await openFile(file)
  if (!opened) return undefined
  const { handle, stats } = opened
  let read: { stats: Stats; body: Buffer } | undefined
  try {
    if (stats.size <= SMALL_FILE) {
      const body = Buffer.allocUnsafe(stats.size)
      let at = 0
      while (at < body.length) {
        const { bytesRead } = await handle.read(body, at, body.length - at, at)
        if (bytesRead === 0) break
        at += bytesRead
      }
      if (at === body.length) read = { stats, body }
    }
  } catch {
    read = undefined
  } finally {
    await closeQuietly(handle)
  }
  if (!read) return undefined
  smallFiles.delete(file)
  if (smallFiles.size >= SMALL_FILES_KEPT) smallFiles.delete(smallFiles.keys().next().value as string)
  smallFiles.set(file, read)
  return read
}

/**
 * Exactly `size` bytes of an open file, from its start: a file grown since its stat is
 * cut at `size`, one truncated ends the stream in error (the push is reset; it never ends
 * short of its content-length). Destroying the stream closes the file.
 */
function exactBytes(handle: FileHandle, size: number, file: string): Readable {
  const source = handle.createReadStream({ start: 0, end: size - 1 })
  let seen = 0
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      done(null, chunk)
    },
    flush(done) {
      done(seen === size ? null : new Error(`${file} was truncated while it was pushed (${seen} of ${size} bytes)`))
    },
  })
  pipeline(source, checked, () => {})
  return checked
}

/** A file opened for one push: headers from the open descriptor's stat, the body read from that descriptor. */
async function openForPush(file: string, cacheControl: string): Promise<PushableResponse | undefined> {
  const opened = await openFile(file)
  if (!opened) return undefined
  const { handle, stats } = opened
  let taken = false
  return {
    size: stats.size,
    headers: fileHeaders(file, stats, cacheControl),
    body() {
      taken = true
      if (stats.size > 0) return exactBytes(handle, stats.size, file)
      void closeQuietly(handle)
      return Buffer.alloc(0)
    },
    release() {
      if (!taken) void closeQuietly(handle)
      taken = true
    },
  }
}

const FILES_KEPT = 1024
/** A file too large to keep in memory: opened for each push. */
const LARGE = Symbol('large file')

/**
 * The files one middleware pushes from `root`, and what it keeps of them: each file's
 * last stat (reused for `recheckMs`, shared by concurrent pushes of the file: a stat per
 * push was the largest single cost of a static push under load, as `npm run bench:profile`
 * shows) and small files' bodies. A changed file is pushed as
 * it is now at most `recheckMs` later. What goes out always agrees with itself: a small
 * file's headers and body come from one read of one descriptor (kept in memory); a larger
 * file is opened for each push, and its headers come from that open descriptor. One per
 * middleware instance: two instances keep their own.
 */
export class FileSource {
  /** A small file's body and the stat of the descriptor it was read from. */
  readonly #smallFiles = new Map<string, { stats: Stats; body: Buffer }>()
  readonly #recentFiles = new Map<string, { at: number; response: Promise<PushableResponse | typeof LARGE | undefined> }>()

  async load(file: string, cacheControl: string, recheckMs: number): Promise<PushableResponse | undefined> {
    const recentFiles = this.#recentFiles
    const key = `${cacheControl}\0${file}`
    const now = performance.now()
    let recent = recentFiles.get(key)
    if (!recent || now - recent.at >= recheckMs) {
      recentFiles.delete(key) // re-inserted last: the map's first key is the oldest
      if (recentFiles.size >= FILES_KEPT) recentFiles.delete(recentFiles.keys().next().value as string)
      recent = { at: now, response: this.#stat(file, cacheControl) }
      recentFiles.set(key, recent)
    }
    const response = await recent.response
    return response === LARGE ? openForPush(file, cacheControl) : response
  }

  async #stat(file: string, cacheControl: string): Promise<PushableResponse | typeof LARGE | undefined> {
    let stats
    try {
      stats = await stat(file)
    } catch {
      return undefined
    }
    if (!stats.isFile()) return undefined
    // Small bodies are kept in memory (until their stat changes): no open/read/close per push.
    const small = stats.size <= SMALL_FILE ? await smallFile(this.#smallFiles, file, stats) : undefined
    if (!small) return LARGE // or changed while it was read: opened for each push until the next stat
    const headers = fileHeaders(file, small.stats, cacheControl)
    return { size: small.stats.size, headers, body: () => small.body }
  }
}

const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'content-length', 'date'])

/** Why a dispatched response may not be pushed, or undefined when it may. */
export function unpushable(response: DispatchedResponse): { reason: SkipReason; detail: string } | undefined {
  if (response.status !== 200) {
    return { reason: response.status === 404 ? 'not-found' : 'status', detail: `the app answered ${response.status}` }
  }
  const cacheControl = (headerText(response.headers['cache-control']) ?? '').toLowerCase()
  if (/(^|[\s,])(no-store|private)([\s,=]|$)/.test(cacheControl)) return { reason: 'not-cacheable', detail: `cache-control: ${cacheControl}` }
  if (response.headers['set-cookie'] !== undefined) return { reason: 'not-cacheable', detail: 'the response sets a cookie' }
  if ((headerText(response.headers['vary']) ?? '').trim() === '*') return { reason: 'not-cacheable', detail: 'vary: *' }
  return undefined
}

export async function loadDispatched(
  app: Parameters<typeof dispatchGet>[0],
  url: string,
  headers: IncomingHttpHeaders,
  remoteAddress: string | undefined,
  timeoutMs: number,
): Promise<LoadResult> {
  let response: DispatchedResponse
  try {
    response = await dispatchGet(app, url, headers, remoteAddress, timeoutMs)
  } catch (err) {
    const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError'
    return { ok: false, reason: timedOut ? 'timeout' : 'error', detail: (err as Error).message }
  }
  const refused = unpushable(response)
  if (refused) return { ok: false, ...refused }
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(response.headers)) {
    if (value !== undefined && !NOT_FORWARDED.has(name)) out[name] = value
  }
  out['content-length'] = String(response.body.length)
  const body = response.body
  return { ok: true, response: { headers: out, size: body.length, body: () => body } }
}
