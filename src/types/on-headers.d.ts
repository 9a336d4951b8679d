declare module 'on-headers' {
  /** Calls `listener` (with `this` the response) just before `res` writes its headers. */
  export default function onHeaders<R extends object>(res: R, listener: (this: R) => void): void
}
