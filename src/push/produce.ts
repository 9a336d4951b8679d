/**
 * Produces the pushed response of one entry: the file under `root` when one serves it,
 * else a GET dispatched through the app. Never rejects.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Request } from 'express'
import { canDispatch } from './dispatch.js'
import { loadDispatched, type LoadResult } from './sources.js'
import type { PreparedEntry, PushSettings } from './settings.js'

/** A promise turned into a result that never rejects: safe to hold while other work is awaited. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: Error }

export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error: error instanceof Error ? error : new Error(String(error)) }),
  )
}

/** Produces the pushed response of one entry; never rejects. */
export async function load(entry: PreparedEntry, req: Request, requestHeaders: IncomingHttpHeaders, settings: PushSettings): Promise<LoadResult> {
  try {
    if (entry.file !== undefined) {
      const file = await settings.files.load(entry.file, settings.cacheControl, settings.fileRecheckMs)
      if (file) return { ok: true, response: file }
    }
    // URLs are absolute paths on the origin: dispatch through the top app, not a mounted sub-app.
    let app: unknown = req.app
    while ((app as { parent?: unknown } | undefined)?.parent) app = (app as { parent: unknown }).parent
    if (!canDispatch(app)) {
      return { ok: false, reason: 'error', detail: 'no file under root, and only an Express 5 app can produce a push by dispatch' }
    }
    const headers = { ...requestHeaders, host: req.headers.host ?? String(req.headers[':authority'] ?? 'localhost') }
    return await loadDispatched(app, entry.url, headers, req.socket?.remoteAddress, settings.dispatchTimeout)
  } catch (err) {
    return { ok: false, reason: 'error', detail: (err as Error).message }
  }
}
