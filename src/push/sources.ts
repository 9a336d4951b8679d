/**
 * Where a pushed body comes from: a file under `root` (streamed, with type, length,
 * ETag, Last-Modified and Cache-Control), else the Express app itself (a dispatched
 * GET). Only a cacheable 200 is pushed.
 */
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { extname, resolve, sep } from 'node:path'
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import etag from 'etag'
import { contentType } from 'mime-types'
import { dispatchGet, type DispatchedResponse } from './dispatch.js'
import type { SkipReason } from './events.js'

export interface PushableResponse {
  readonly headers: OutgoingHttpHeaders
  readonly size: number
  body(): Buffer | Readable
}

export type LoadResult = { ok: true; response: PushableResponse } | { ok: false; reason: SkipReason; detail: string }

/** The file under `root` that serves `url`, or undefined when the URL cannot name one. Computed at load. */
export function fileUnderRoot(root: string, url: string): string | undefined {
  let pathname: string
  try {
    pathname = decodeURIComponent(url.split(/[?#]/, 1)[0]!)
  } catch {
    return undefined
  }
  if (pathname.includes('\0') || pathname.endsWith('/')) return undefined
  const file = resolve(root, '.' + pathname)
  return file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : undefined
}

/** Files up to this size are kept in memory between pushes (until their size or mtime changes). */
const SMALL_FILE = 64 * 1024
const SMALL_FILES_KEPT = 256
const smallFiles = new Map<string, { size: number; mtimeMs: number; body: Buffer }>()

async function smallFileBody(file: string, size: number, mtimeMs: number): Promise<Buffer | undefined> {
  const kept = smallFiles.get(file)
  if (kept && kept.size === size && kept.mtimeMs === mtimeMs) return kept.body
  let body: Buffer
  try {
    body = await readFile(file)
  } catch {
    return undefined
  }
  if (body.length !== size) return undefined // changed while reading: stream it this time
  if (smallFiles.size >= SMALL_FILES_KEPT) smallFiles.delete(smallFiles.keys().next().value as string)
  smallFiles.set(file, { size, mtimeMs, body })
  return body
}

const FILES_KEPT = 1024
const recentFiles = new Map<string, { at: number; response: Promise<PushableResponse | undefined> }>()

/**
 * The push of `file`: its stat (headers, body) is reused for `recheckMs`, and
 * concurrent pushes of one file share one stat. A stat per push was the largest cost
 * of a static push under load (6.5% of the server's CPU profile in `npm run
 * bench:push`); a changed file is pushed as it is now at most `recheckMs` later.
 */
export function loadFile(file: string, cacheControl: string, recheckMs: number): Promise<PushableResponse | undefined> {
  const key = `${cacheControl}\0${file}`
  const now = performance.now()
  const recent = recentFiles.get(key)
  if (recent && now - recent.at < recheckMs) return recent.response
  recentFiles.delete(key) // re-inserted last: the map's first key is the oldest
  if (recentFiles.size >= FILES_KEPT) recentFiles.delete(recentFiles.keys().next().value as string)
  const response = statFile(file, cacheControl)
  recentFiles.set(key, { at: now, response })
  return response
}

async function statFile(file: string, cacheControl: string): Promise<PushableResponse | undefined> {
  let stats
  try {
    stats = await stat(file)
  } catch {
    return undefined
  }
  if (!stats.isFile()) return undefined
  // Small bodies are kept in memory (until their size or mtime changes): no open/read/close per push.
  const small = stats.size <= SMALL_FILE ? await smallFileBody(file, stats.size, stats.mtimeMs) : undefined
  return {
    size: stats.size,
    headers: {
      'content-type': contentType(extname(file)) || 'application/octet-stream',
      'content-length': String(stats.size),
      etag: etag(stats),
      'last-modified': stats.mtime.toUTCString(),
      'cache-control': cacheControl,
    },
    body: small ? () => small : () => createReadStream(file),
  }
}

const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'content-length', 'date'])

function headerText(value: DispatchedResponse['headers'][string]): string {
  return Array.isArray(value) ? value.join(', ') : String(value ?? '')
}

/** Why a dispatched response may not be pushed, or undefined when it may. */
export function unpushable(response: DispatchedResponse): { reason: SkipReason; detail: string } | undefined {
  if (response.status !== 200) {
    return { reason: response.status === 404 ? 'not-found' : 'status', detail: `the app answered ${response.status}` }
  }
  const cacheControl = headerText(response.headers['cache-control']).toLowerCase()
  if (/(^|[\s,])(no-store|private)([\s,=]|$)/.test(cacheControl)) return { reason: 'not-cacheable', detail: `cache-control: ${cacheControl}` }
  if (response.headers['set-cookie'] !== undefined) return { reason: 'not-cacheable', detail: 'the response sets a cookie' }
  if (headerText(response.headers['vary']).trim() === '*') return { reason: 'not-cacheable', detail: 'vary: *' }
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
