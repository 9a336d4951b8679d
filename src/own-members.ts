/**
 * Express re-prototypes every request and response it handles (onto `app.request` /
 * `app.response`, per app and sub-app). Objects that need the members of another
 * prototype (node:http2's compatibility objects, light-my-request's injected ones) get
 * them as own properties instead, which survive any prototype Express puts behind them.
 */

/** The members of `proto` (no constructor), as configurable descriptors: computed once, applied per object. */
export function ownMembers(proto: object): PropertyDescriptorMap {
  const descriptors: PropertyDescriptorMap = { ...Object.getOwnPropertyDescriptors(proto) }
  Reflect.deleteProperty(descriptors, 'constructor')
  for (const descriptor of Object.values(descriptors)) descriptor.configurable = true
  return descriptors
}
