/**
 * Producing a pushed response by dispatching a synthetic GET through the Express app
 * itself (like Go's `Pusher.Push`), with light-my-request. The app is not handed to
 * light-my-request directly (its Express detection re-points the app's own
 * request/response prototypes for good). Express re-prototypes every request and
 * response onto `app.request`/`app.response` (a mounted sub-app onto its own), which
 * would drop light-my-request's capture; so the injected request and response get the
 * members of light-my-request's prototypes as their own properties (descriptors
 * computed once), and keep them whatever prototype Express puts behind them.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { inject } from 'light-my-request'
import { ownMembers } from '../own-members.js'

export interface DispatchedResponse {
  status: number
  headers: Record<string, string | string[] | number | undefined>
  body: Buffer
}

interface ExpressLike {
  request: object
  response: object
  handle(req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void
}

const dispatched = new WeakSet<object>()

/** True for requests that a push dispatched: they must not push in turn. */
export function isDispatched(req: object): boolean {
  return dispatched.has(req)
}

let injectionMembers: Promise<[PropertyDescriptorMap, PropertyDescriptorMap]> | undefined

/** The members of light-my-request's Request/Response prototypes, read once from a probe injection. */
function probeInjectionMembers(): Promise<[PropertyDescriptorMap, PropertyDescriptorMap]> {
  injectionMembers ??= (async () => {
    let found: [PropertyDescriptorMap, PropertyDescriptorMap] | undefined
    await inject(
      (req, res) => {
        found = [ownMembers(Object.getPrototypeOf(req) as object), ownMembers(Object.getPrototypeOf(res) as object)]
        res.end()
      },
      { method: 'GET', url: '/' },
    )
    if (!found) throw new Error('light-my-request did not dispatch its probe request')
    return found
  })()
  return injectionMembers
}

/** Whether `app` is an Express 5 app. */
export function canDispatch(app: unknown): app is ExpressLike {
  const candidate = app as (Partial<ExpressLike> & { lazyrouter?: unknown }) | undefined
  return (
    typeof candidate?.handle === 'function' &&
    typeof candidate.request === 'object' &&
    typeof candidate.response === 'object' &&
    candidate.lazyrouter === undefined // Express 4: not supported for dispatch
  )
}

/** GETs `url` through `app`; rejects after `timeoutMs`. */
export async function dispatchGet(
  app: ExpressLike,
  url: string,
  headers: IncomingHttpHeaders,
  remoteAddress: string | undefined,
  timeoutMs: number,
): Promise<DispatchedResponse> {
  const [requestMembers, responseMembers] = await probeInjectionMembers()
  // Not AbortSignal.timeout(): its timer outlives a finished dispatch and, when it
  // fires, still aborts the spent request (an AbortError built per push under load).
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(new DOMException(`no response within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs)
  const response = await inject(
    (req, res) => {
      Object.defineProperties(req, requestMembers)
      Object.defineProperties(res, responseMembers)
      dispatched.add(req)
      app.handle(req, res)
    },
    {
      method: 'GET',
      url,
      headers,
      ...(remoteAddress ? { remoteAddress } : {}),
      signal: abort.signal,
    },
  ).finally(() => clearTimeout(timer))
  return { status: response.statusCode, headers: response.headers, body: response.rawPayload }
}
