/**
 * Express re-prototypes every request and response it handles onto `app.request` /
 * `app.response` (a mounted sub-app onto its own, whose prototype is its parent's), and
 * all of those end in Express's own `request` / `response`, which inherit from
 * `http.IncomingMessage.prototype` / `http.ServerResponse.prototype`. A node:http2
 * compatibility request (`Http2ServerRequest`) or response then loses the members of its
 * own prototype.
 *
 * Here one object is put between Express's `request` and `http.IncomingMessage.prototype`
 * (and one between its `response` and `http.ServerResponse.prototype`), once: for each
 * member of `Http2ServerRequest.prototype` (`Http2ServerResponse.prototype`) it has an
 * accessor that answers that member for an object the bridge marked as HTTP/2
 * (`markHttp2`), and what `http.IncomingMessage.prototype` (`http.ServerResponse.prototype`)
 * answers for any other object. So whatever prototype Express puts behind a marked request,
 * root app or mounted sub-app, its chain passes through the layer and it keeps the HTTP/2
 * members under Express's API; requests of every other kind read and write exactly what
 * they did. Nothing is copied per request: the mark is one property.
 */
import http from 'node:http'
import http2 from 'node:http2'
import { withExpressRequestFields, withExpressResponseFields } from '../shaped-messages.js'
import { writeHeadWithoutConnectionFields } from './connection-fields.js'

/** The mark of an HTTP/2 compatibility request or response handed to the app by the bridge. */
const HTTP2 = Symbol('express-h2-push.http2')

interface Marked {
  [HTTP2]?: true
}

/** Marks a node:http2 compatibility request or response: the layer answers it with node:http2's members. */
export function markHttp2(object: object): void {
  ;(object as Marked)[HTTP2] = true
}

// biome-ignore lint/suspicious/noExplicitAny: a mixin's base is any constructor
type Constructor = new (...args: any[]) => object

/**
 * node:http2's compatibility request and response classes, for the server's
 * `Http2ServerRequest` / `Http2ServerResponse` options: with fields for the mark and for
 * what Express adds (../shaped-messages.ts), so that neither grows the object later.
 */
export class ShapedHttp2Request extends withExpressRequestFields(http2.Http2ServerRequest as unknown as Constructor) {
  [HTTP2]: true | undefined = undefined
}

export class ShapedHttp2Response extends withExpressResponseFields(http2.Http2ServerResponse as unknown as Constructor) {
  [HTTP2]: true | undefined = undefined
}
// node:http2's writeHead without connection-specific fields (connection-fields.ts), for a response Express does not re-prototype.
Object.defineProperty(ShapedHttp2Response.prototype, 'writeHead', { value: writeHeadWithoutConnectionFields, writable: true, configurable: true })

function readOnly(key: PropertyKey): TypeError {
  return new TypeError(`Cannot assign to read only property '${String(key)}' of object`)
}

/** The layer's member `key`: node:http2's for a marked object, `base`'s for any other. */
function member(h2proto: object, base: object, key: PropertyKey): PropertyDescriptor {
  const own = Object.getOwnPropertyDescriptor(h2proto, key)!
  const h2get = own.get
  const value: unknown = own.value
  const get = h2get
    ? function get(this: Marked): unknown {
        return this[HTTP2] === true ? h2get.call(this) : Reflect.get(base, key, this)
      }
    : function get(this: Marked): unknown {
        return this[HTTP2] === true ? value : Reflect.get(base, key, this)
      }
  const set = function set(this: Marked, v: unknown): void {
    if (!Reflect.set(this[HTTP2] === true ? h2proto : base, key, v, this)) throw readOnly(key)
  }
  // Enumerable as the member it shadows for other objects (for...in lists what it listed).
  let enumerable = own.enumerable === true
  for (let o: object | null = base; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const shadowed = Object.getOwnPropertyDescriptor(o, key)
    if (shadowed) {
      enumerable = shadowed.enumerable === true
      break
    }
  }
  return { get, set, enumerable, configurable: true }
}

function layerOver(h2proto: object, base: object): object {
  const layer = Object.create(base) as object
  for (const key of Reflect.ownKeys(h2proto)) {
    if (key !== 'constructor') Object.defineProperty(layer, key, member(h2proto, base, key))
  }
  return layer
}

let layers: { request: object; response: object } | undefined

function theLayers(): { request: object; response: object } {
  if (layers === undefined) {
    const response = layerOver(http2.Http2ServerResponse.prototype, http.ServerResponse.prototype)
    // For a response Express re-prototyped: node:http2's writeHead without connection-specific fields.
    Object.defineProperty(response, 'writeHead', member({ writeHead: writeHeadWithoutConnectionFields }, http.ServerResponse.prototype, 'writeHead'))
    layers = { request: layerOver(http2.Http2ServerRequest.prototype, http.IncomingMessage.prototype), response }
  }
  return layers
}

/** Puts `layer` under the object of `proto`'s chain that inherits from `base` directly; false when none does. */
function insert(proto: unknown, base: object, layer: object): boolean {
  for (let o = proto; typeof o === 'object' && o !== null; o = Object.getPrototypeOf(o)) {
    const next = Object.getPrototypeOf(o) as object | null
    if (next === layer) return true
    if (next === base) {
      Object.setPrototypeOf(o, layer)
      return true
    }
  }
  return false
}

/**
 * Puts the layers under the Express `request` / `response` that `app`'s own inherit from
 * (every app of that Express, mounted or not, shares them). False when `app` has none
 * (not an Express app): its requests then need node:http2's members copied onto them.
 */
export function layerUnderExpress(app: { request?: unknown; response?: unknown }): boolean {
  const { request, response } = theLayers()
  const reaches = (proto: unknown, base: object, layer: object) => {
    for (let o = proto; typeof o === 'object' && o !== null; o = Object.getPrototypeOf(o)) if (o === base || o === layer) return true
    return false
  }
  if (!reaches(app.request, http.IncomingMessage.prototype, request) || !reaches(app.response, http.ServerResponse.prototype, response)) return false
  return insert(app.request, http.IncomingMessage.prototype, request) && insert(app.response, http.ServerResponse.prototype, response)
}
