/**
 * Writing the manifest `generate` made, without ever losing one: an existing manifest is
 * only replaced by one with at least as many routes and URLs (unless `force`), the file
 * is written to a temporary file beside it and renamed over it (a crash or a full disk
 * leaves the old one whole), and `$schema` points at the schema relative to where the
 * manifest is written.
 */
import { createRequire } from 'node:module'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { basename, dirname, join, relative, sep } from 'node:path'
import { H2PushError } from '../errors.js'
import type { PushManifest } from '../manifest/load.js'
import { manifestJson } from './generate.js'

/** `1 route`, `2 routes`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

export interface ManifestSize {
  routes: number
  urls: number
}

/** Routes and URLs of a manifest document (`$schema` is not a route). */
export function manifestSize(manifest: Record<string, unknown>): ManifestSize {
  let routes = 0
  let urls = 0
  for (const [key, entries] of Object.entries(manifest)) {
    if (key === '$schema') continue
    routes++
    if (entries !== null && typeof entries === 'object') urls += Object.keys(entries).length
  }
  return { routes, urls }
}

export function describeSize(size: ManifestSize): string {
  return `${plural(size.routes, 'route')}, ${plural(size.urls, 'URL')}`
}

const SCHEMA = 'express-h2-push/push-manifest.schema.json'

function asUrlPath(path: string): string {
  const posix = path.split(sep).join('/')
  return posix.startsWith('.') ? posix : `./${posix}`
}

/**
 * The `$schema` value for a manifest written to `out`: the schema as installed in the
 * project that holds `out` (`./node_modules/express-h2-push/push-manifest.schema.json`
 * beside it, `../node_modules/...` from `public/`), else this package's own copy, as a
 * path relative to the manifest's folder.
 */
export function schemaRef(out: string): string {
  let schema: string
  try {
    schema = createRequire(out).resolve(SCHEMA)
  } catch {
    schema = createRequire(import.meta.url).resolve(SCHEMA)
  }
  return asUrlPath(relative(dirname(out), schema))
}

/** What is in `out` now: undefined when there is no file. */
async function existing(out: string): Promise<{ size: ManifestSize; routes: string[] } | undefined> {
  let text: string
  try {
    text = await readFile(out, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new H2PushError(
      'ERR_H2PUSH_MANIFEST_WRITE',
      `cannot read the existing ${out} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}), so it is not replaced. Fix: check the file and its permissions, or write elsewhere with --out`,
      { cause: err },
    )
  }
  let data: unknown
  try {
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch {
    data = undefined
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new H2PushError(
      'ERR_H2PUSH_MANIFEST_SHRINK',
      `${out} exists and is not a JSON object (a manifest being edited?), so it is not replaced. Fix: fix or move it, or pass --force to replace it`,
    )
  }
  const routes = Object.keys(data).filter((k) => k !== '$schema')
  return { size: manifestSize(data as Record<string, unknown>), routes }
}

export interface WriteOptions {
  /** Replace an existing manifest even with fewer routes or URLs. */
  force: boolean
  /** The folder the manifest was generated from, for the message. */
  from: string
}

/**
 * Writes `manifest` to `out`, atomically. Throws ERR_H2PUSH_MANIFEST_SHRINK when `out`
 * holds a manifest with more routes or more URLs (or one that is not JSON) and `force` is
 * off; ERR_H2PUSH_MANIFEST_WRITE when the file cannot be written.
 */
export async function writeManifest(out: string, manifest: PushManifest, options: WriteOptions): Promise<{ size: ManifestSize; replaced?: ManifestSize }> {
  const size = manifestSize(manifest)
  const before = options.force ? undefined : await existing(out)
  if (before && (size.routes < before.size.routes || size.urls < before.size.urls)) {
    const lost = before.routes.filter((route) => !(route in manifest))
    const shown = lost.length > 5 ? `${lost.slice(0, 5).join(', ')} and ${lost.length - 5} more` : lost.join(', ')
    throw new H2PushError(
      'ERR_H2PUSH_MANIFEST_SHRINK',
      `${out} has ${describeSize(before.size)}; the manifest generated from ${options.from} has ${describeSize(size)}` +
        `${lost.length > 0 ? ` (it would lose ${shown})` : ''}, so ${basename(out)} is left as it is. ` +
        `Fix: check that ${options.from} is the built site (${size.routes === 0 ? 'no page in it lists a stylesheet, script, preload or fetchpriority=high image' : '--check lists the differences'}), or pass --force to replace it`,
    )
  }
  const text = manifestJson(manifest, schemaRef(out))
  const temporary = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`)
  try {
    await writeFile(temporary, text, { flag: 'wx' })
    await rename(temporary, out)
  } catch (err) {
    await rm(temporary, { force: true })
    throw new H2PushError(
      'ERR_H2PUSH_MANIFEST_WRITE',
      `cannot write ${out} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}). Fix: check that its folder exists and is writable`,
      { cause: err },
    )
  }
  return before ? { size, replaced: before.size } : { size }
}
