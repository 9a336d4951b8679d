/**
 * express-h2-push: HTTP/2 server push for Express apps. The package's one entry: the core
 * (`src/`) and the middleware users mount (`middleware/`).
 */
export * from './src/index.js'
export {
  pushManifest,
  type PushManifestOptions,
  type PushManifestMiddleware,
  type CacheDigestOptions,
} from './middleware/push-manifest.js'
