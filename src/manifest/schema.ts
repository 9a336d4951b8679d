/**
 * The push manifest JSON Schema (shipped as `push-manifest.schema.json`), compiled
 * once with Ajv.
 */
import { createRequire } from 'node:module'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'

const require = createRequire(import.meta.url)

/** The schema document, as shipped at `express-h2-push/push-manifest.schema.json`. */
export const pushManifestSchema = require('express-h2-push/push-manifest.schema.json') as Record<string, unknown> & {
  definitions: { entry: { properties: { type: { enum: string[] } } } }
}

/**
 * The fetch destinations a manifest entry's `type` may name: the `as` values a preload
 * takes. The schema's `definitions.entry.properties.type.enum` lists the same (a test
 * holds them equal).
 */
export const PUSH_DESTINATIONS = [
  'audio',
  'audioworklet',
  'document',
  'embed',
  'fetch',
  'font',
  'image',
  'manifest',
  'object',
  'paintworklet',
  'script',
  'serviceworker',
  'sharedworker',
  'style',
  'track',
  'video',
  'worker',
  'xslt',
] as const

/** A manifest entry's `type`: `'style'`, `'script'`, `'font'`, `'image'`, `'fetch'`, ... */
export type PushDestination = (typeof PUSH_DESTINATIONS)[number]

/** The fetch destinations a manifest entry's `type` may name, as the schema lists them. */
export const ENTRY_TYPES: readonly string[] = pushManifestSchema.definitions.entry.properties.type.enum

/** Whether `type` is a destination a manifest entry may name. */
export function isPushDestination(type: string): type is PushDestination {
  return (PUSH_DESTINATIONS as readonly string[]).includes(type)
}

let validator: ValidateFunction | undefined

export function validateManifest(document: unknown): readonly ErrorObject[] {
  validator ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(pushManifestSchema)
  return validator(document) ? [] : (validator.errors ?? [])
}
