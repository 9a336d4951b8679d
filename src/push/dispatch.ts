/**
 * Producing a pushed response by dispatching a synthetic GET through the Express app
 * itself (like Go's `Pusher.Push`), with light-my-request. The app is not handed to
 * light-my-request directly (its Express detection re-points the app's own
 * request/response prototypes for good); instead a dispatcher that inherits from the
 * app carries Express's request/response methods layered over light-my-request's own
 * prototypes, built once per app. Express 5 re-prototypes each request onto
 * `this.request`, so the dispatched request keeps the injection's capture.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { inject } from 'light-my-request'

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

let injectionPrototypes: Promise<[object, object]> | undefined

function probeInjectionPrototypes(): Promise<[object, object]> {
  injectionPrototypes ??= (async () => {
    let found: [object, object] | undefined
    await inject(
      (req, res) => {
        found = [Object.getPrototypeOf(req) as object, Object.getPrototypeOf(res) as object]
        res.end()
      },
      { method: 'GET', url: '/' },
    )
    if (!found) throw new Error('light-my-request did not dispatch its probe request')
    return found
  })()
  return injectionPrototypes
}

function layered(base: object, ...sources: object[]): object {
  const proto = Object.create(base) as object
  for (const source of sources) Object.defineProperties(proto, Object.getOwnPropertyDescriptors(source))
  return proto
}

const dispatchers = new WeakMap<object, Promise<ExpressLike>>()

/** Whether `app` is an Express 5 app (whose `handle` re-prototypes requests onto `this.request`). */
export function canDispatch(app: unknown): app is ExpressLike {
  const candidate = app as Partial<ExpressLike> & { lazyrouter?: unknown } | undefined
  return (
    typeof candidate?.handle === 'function' &&
    typeof candidate.request === 'object' &&
    typeof candidate.response === 'object' &&
    candidate.lazyrouter === undefined // Express 4 re-prototypes in its init middleware, onto the real app's objects
  )
}

function dispatcherFor(app: ExpressLike): Promise<ExpressLike> {
  let dispatcher = dispatchers.get(app)
  if (!dispatcher) {
    dispatcher = probeInjectionPrototypes().then(([requestProto, responseProto]) => {
      const request = layered(requestProto, Object.getPrototypeOf(app.request) as object, app.request)
      const response = layered(responseProto, Object.getPrototypeOf(app.response) as object, app.response)
      return Object.create(app, { request: { value: request }, response: { value: response } }) as ExpressLike
    })
    dispatchers.set(app, dispatcher)
  }
  return dispatcher
}

/** GETs `url` through `app`; rejects after `timeoutMs`. */
export async function dispatchGet(
  app: ExpressLike,
  url: string,
  headers: IncomingHttpHeaders,
  remoteAddress: string | undefined,
  timeoutMs: number,
): Promise<DispatchedResponse> {
  const dispatcher = await dispatcherFor(app)
  const signal = AbortSignal.timeout(timeoutMs)
  const response = await inject(
    (req, res) => {
      dispatched.add(req)
      dispatcher.handle(req, res)
    },
    {
      method: 'GET',
      url,
      headers,
      ...(remoteAddress ? { remoteAddress } : {}),
      signal,
    },
  )
  return { status: response.statusCode, headers: response.headers, body: response.rawPayload }
}
