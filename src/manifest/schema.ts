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

/** The fetch destinations a manifest entry's `type` may name. */
export const ENTRY_TYPES: readonly string[] = pushManifestSchema.definitions.entry.properties.type.enum

let validator: ValidateFunction | undefined

export function validateManifest(document: unknown): readonly ErrorObject[] {
  validator ??= new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(pushManifestSchema)
  return validator(document) ? [] : (validator.errors ?? [])
}
