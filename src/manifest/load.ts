/**
 * Loading a push manifest: read, parse (line/column on syntax errors), validate with
 * the JSON Schema (JSON pointer on every other error), then compile: route matchers,
 * URLs as URI references (percent-encoded as UTF-8 where a URI cannot hold a character),
 * Link header values, static file paths. Everything the request path needs is
 * computed here, once.
 */
import { readFileSync } from 'node:fs'
import type { ErrorObject } from 'ajv'
import { PushManifestError, type ManifestLocation } from '../errors.js'
import { closest } from '../options/validate.js'
import { ENTRY_TYPES, validateManifest, type PushDestination } from './schema.js'
import { compileRouteKey, type RouteMatcher } from './match.js'
import { preloadLink, uriReference } from './link.js'

export type { PushDestination } from './schema.js'

/** One resource of a route, as written in the manifest. */
export interface PushManifestEntry {
  /** The fetch destination, the Link's `as`: `'style'`, `'script'`, `'font'`, `'image'`, `'fetch'`, ... */
  type: PushDestination
  crossorigin?: boolean | 'anonymous' | 'use-credentials'
  /** HTTP/2 priority weight (1–256) as http2-push-manifest writes it: a heavier entry of the same class goes first. */
  weight?: number
  nopush?: boolean
  /** Push (and link) this entry before every other of its route, whatever its type (as H2O's `critical`). */
  critical?: boolean
}

/** The manifest document: route key → URL → entry. */
export type PushManifest = Record<string, Record<string, PushManifestEntry>>

/** A compiled entry: what the request path needs, precomputed. */
export interface CompiledEntry {
  /**
   * The URL as requested, pushed (`:path`) and linked: the manifest's URL as a URI
   * reference, percent-encoded as UTF-8 where it holds characters a URI cannot
   * ("/café.css" → "/caf%C3%A9.css", what a browser requests for it).
   */
  readonly url: string
  readonly type: string
  readonly nopush: boolean
  /** `<url>; rel=preload; as=type[; crossorigin][; nopush]` */
  readonly link: string
  /** JSON pointer of the entry in its manifest. */
  readonly pointer: string
}

export interface CompiledRoute {
  readonly key: string
  readonly matcher: RouteMatcher
  readonly entries: readonly CompiledEntry[]
}

export interface CompiledManifest {
  readonly file: string
  readonly routes: readonly CompiledRoute[]
}

export interface LoadOptions {
  /** Refuse a route with more URLs than this. */
  maxEntriesPerRoute: number
}

export const OBJECT_SOURCE = '(object)'

const ENTRY_FIELDS = ['type', 'crossorigin', 'weight', 'nopush', 'critical']

function escapePointer(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1')
}

function valueAt(document: unknown, pointer: string): unknown {
  let node = document
  for (const raw of pointer.split('/').slice(1)) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[token]
  }
  return node
}

function show(value: unknown): string {
  const text = JSON.stringify(value)
  return text === undefined ? String(value) : text.length > 80 ? text.slice(0, 77) + '...' : text
}

/** Reads a manifest file; ERR_PUSH_MANIFEST_READ when it cannot. */
export function readManifestFile(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new PushManifestError(
      'ERR_PUSH_MANIFEST_READ',
      { file, pointer: '' },
      `cannot read the file (${code ?? (err as Error).message})`,
      code === 'ENOENT' ? 'check the `manifest` path (relative paths start at the working directory)' : 'check the file and its permissions',
      { cause: err },
    )
  }
}

/** Parses manifest JSON text; ERR_PUSH_MANIFEST_SYNTAX with line and column when it is not JSON. */
export function parseManifestText(text: string, file: string): unknown {
  try {
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch (err) {
    const message = (err as Error).message
    let line: number | undefined
    let column: number | undefined
    const lc = /line (\d+) column (\d+)/.exec(message)
    if (lc) {
      line = Number(lc[1])
      column = Number(lc[2])
    } else {
      const at = /position (\d+)/.exec(message)
      const position = at ? Number(at[1]) : text.length
      const before = text.slice(0, position).split('\n')
      line = before.length
      column = before.at(-1)!.length + 1
    }
    const problem = message
      .replace(/^JSON\.parse: /, '')
      .replace(/ in JSON at position \d+.*$/, '')
      .replace(/\s*\(line \d+ column \d+\)$/, '')
    throw new PushManifestError(
      'ERR_PUSH_MANIFEST_SYNTAX',
      { file, pointer: '', line, column },
      `not valid JSON: ${problem}`,
      'fix the JSON at that line and column (no comments or trailing commas)',
      { cause: err },
    )
  }
}

interface Explained {
  pointer: string
  problem: string
  fix: string
}

const URL_RULES: Array<[RegExp, (url: string) => Omit<Explained, 'pointer'>]> = [
  [
    /url\/allOf\/0\//,
    (url) => ({
      problem: `${show(url)} is an absolute URL; only same-origin resources can be pushed or preloaded from here`,
      fix: `write it as a path on this origin ("${url.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*/, '') || '/'}"), or drop it`,
    }),
  ],
  [
    /url\/allOf\/1\//,
    (url) => ({
      problem: `${show(url)} is not an absolute path`,
      fix: `start it with a single "/" ("/${url.replace(/^[/\\]*/, '')}")`,
    }),
  ],
  [
    /url\/allOf\/2\//,
    (url) => ({
      problem: `${show(url)} has a ".." segment (path traversal)`,
      fix: 'write the resolved path, without ".."',
    }),
  ],
  [
    /url\/allOf\/3\//,
    (url) => ({
      problem: `${show(url)} contains a space, backslash or control character`,
      fix: 'percent-encode it (%20 for a space)',
    }),
  ],
  [
    /url\/(minLength|maxLength)/,
    (url) => ({
      problem: `URL ${show(url)} is empty or longer than 2048 characters`,
      fix: 'use a path between 1 and 2048 characters',
    }),
  ],
]

/** A key of the manifest (depth 0: a route) or of a route (a URL) that the schema refuses. */
function badKey(pointer: string, depth: number, name: string, propertyNameDetail: ReadonlyMap<string, ErrorObject>): Explained {
  const at = `${pointer}/${escapePointer(name)}`
  if (depth === 0) {
    return {
      pointer: at,
      problem: `route key ${show(name)} is not a route pattern, a regular expression or an HTML file name`,
      fix: 'start route patterns with "/" ("/about", "/users/:id", "/docs/*"), regular expressions with "^" ("^/blog/.*$"), or name an HTML file under `root` ("index.html")',
    }
  }
  const detail = propertyNameDetail.get(`${pointer}\n${name}`)
  const rule = URL_RULES.find(([schemaPath]) => schemaPath.test(detail?.schemaPath ?? ''))
  return { pointer: at, ...(rule ? rule[1](name) : { problem: `URL ${show(name)} is not allowed`, fix: 'use a same-origin absolute path' }) }
}

/** An entry without "type": `"tpye": "style"` is a misspelled one, named as written. */
function missingType(pointer: string, value: unknown): Explained {
  const typo =
    value !== null && typeof value === 'object' ? Object.keys(value).find((key) => !ENTRY_FIELDS.includes(key) && closest(key, ['type']) === 'type') : undefined
  if (typo !== undefined) {
    return {
      pointer: `${pointer}/${escapePointer(typo)}`,
      problem: `unknown field ${show(typo)} in an entry, which has no "type"`,
      fix: `did you mean "type"? rename ${show(typo)} to "type" (a fetch destination: one of ${ENTRY_TYPES.join(', ')})`,
    }
  }
  return { pointer: `${pointer}/type`, problem: 'the entry has no "type"', fix: `add "type": one of ${ENTRY_TYPES.join(', ')}` }
}

/** Turns Ajv's errors into the one that says the most: what, where, and the fix. */
function explain(errors: readonly ErrorObject[], document: unknown): Explained {
  const propertyNameDetail = new Map<string, ErrorObject>()
  for (const error of errors) {
    const name = (error as ErrorObject & { propertyName?: string }).propertyName
    if (name !== undefined && error.keyword !== 'propertyNames' && !propertyNameDetail.has(`${error.instancePath}\n${name}`)) {
      propertyNameDetail.set(`${error.instancePath}\n${name}`, error)
    }
  }
  for (const error of errors) {
    if ((error as ErrorObject & { propertyName?: string }).propertyName !== undefined && error.keyword !== 'propertyNames') continue
    const pointer = error.instancePath
    const value = valueAt(document, pointer)
    const depth = pointer === '' ? 0 : pointer.split('/').length - 1
    if (error.keyword === 'propertyNames') return badKey(pointer, depth, String(error.params['propertyName']), propertyNameDetail)
    if (pointer === '/$schema') {
      return { pointer, problem: `"$schema" must be a string, got ${show(value)}`, fix: 'point it at push-manifest.schema.json, or remove it' }
    }
    if (error.keyword === 'type' && depth === 0) {
      return { pointer, problem: `the manifest must be a JSON object, got ${show(value)}`, fix: 'write { "/route": { "/url": { "type": "style" } } }' }
    }
    if (error.keyword === 'type' && depth === 1) {
      return {
        pointer,
        problem: `the entries of a route must be an object, got ${show(value)}`,
        fix: 'map each URL to its entry: { "/app.css": { "type": "style" } }',
      }
    }
    if (error.keyword === 'type' && depth === 2) {
      return { pointer, problem: `an entry must be an object, got ${show(value)}`, fix: 'write { "type": "style" } (type is a fetch destination)' }
    }
    if (error.keyword === 'required') return missingType(pointer, value)
    if (error.keyword === 'enum' && pointer.endsWith('/type')) {
      const hint = typeof value === 'string' ? closest(value, ENTRY_TYPES) : undefined
      return {
        pointer,
        problem: `unknown type ${show(value)}`,
        fix: `${hint ? `did you mean "${hint}"? ` : ''}type is a fetch destination: one of ${ENTRY_TYPES.join(', ')}`,
      }
    }
    if (error.keyword === 'additionalProperties') {
      const field = String(error.params['additionalProperty'])
      const hint = closest(field, ENTRY_FIELDS)
      return {
        pointer: `${pointer}/${escapePointer(field)}`,
        problem: `unknown field ${show(field)} in an entry`,
        fix: `${hint ? `did you mean "${hint}"? ` : ''}an entry has only ${ENTRY_FIELDS.join(', ')}`,
      }
    }
    if (pointer.endsWith('/crossorigin')) {
      return { pointer, problem: `crossorigin ${show(value)} is not allowed`, fix: 'use true, false, "anonymous" or "use-credentials"' }
    }
    if (pointer.endsWith('/weight') || pointer.endsWith('/nopush') || pointer.endsWith('/critical')) {
      const expected = pointer.endsWith('/weight') ? 'a number' : 'true or false'
      return { pointer, problem: `${show(value)} is not ${expected}`, fix: `make it ${expected}` }
    }
  }
  const first = errors[0]
  return { pointer: first?.instancePath ?? '', problem: first?.message ?? 'invalid', fix: 'see push-manifest.schema.json' }
}

/**
 * Validates and compiles a manifest document. Throws PushManifestError
 * (ERR_PUSH_MANIFEST_INVALID) naming the file, the JSON pointer, the value and the fix.
 */
export function compileManifest(document: unknown, file: string, options: LoadOptions): CompiledManifest {
  const errors = validateManifest(document)
  if (errors.length > 0) {
    const { pointer, problem, fix } = explain(errors, document)
    throw new PushManifestError('ERR_PUSH_MANIFEST_INVALID', { file, pointer }, problem, fix, { value: valueAt(document, pointer) })
  }
  const manifest = document as PushManifest
  const routes: CompiledRoute[] = []
  for (const [key, urls] of Object.entries(manifest)) {
    if (key === '$schema') continue
    const pointer = `/${escapePointer(key)}`
    const where: ManifestLocation = { file, pointer }
    const count = Object.keys(urls).length
    if (count > options.maxEntriesPerRoute) {
      throw new PushManifestError(
        'ERR_PUSH_MANIFEST_INVALID',
        where,
        `route ${show(key)} lists ${count} URLs, more than maxEntriesPerRoute (${options.maxEntriesPerRoute})`,
        'push only what the page needs first (pushing everything is slower than pushing nothing), or raise `maxEntriesPerRoute`',
        { value: count },
      )
    }
    let matcher: RouteMatcher
    try {
      matcher = compileRouteKey(key)
    } catch (err) {
      throw new PushManifestError(
        'ERR_PUSH_MANIFEST_INVALID',
        where,
        `route key ${show(key)} does not compile: ${(err as Error).message.replace(/; visit .*$/, '')}`,
        key.startsWith('^')
          ? 'write a valid JavaScript regular expression'
          : 'use Express 5 route syntax: "/users/:id", "/docs/*" (or "/docs/*path"), "/file{.:ext}"',
        { value: key, cause: err },
      )
    }
    const entries: CompiledEntry[] = []
    const ranks = new Map<string, readonly number[]>()
    const written = new Map<string, string>()
    for (const [text, entry] of Object.entries(urls)) {
      const at: ManifestLocation = { file, pointer: `${pointer}/${escapePointer(text)}` }
      const url = uriReference(text)
      if (url === undefined) {
        throw new PushManifestError(
          'ERR_PUSH_MANIFEST_INVALID',
          at,
          `URL ${show(text)} holds a lone UTF-16 surrogate (half a character), which has no UTF-8 form`,
          'write the whole character, or percent-encode its UTF-8 bytes',
          { value: text },
        )
      }
      const same = written.get(url)
      if (same !== undefined) {
        throw new PushManifestError(
          'ERR_PUSH_MANIFEST_INVALID',
          at,
          `URL ${show(text)} is the same URL as ${show(same)} once percent-encoded (${url})`,
          'list it once',
          { value: text },
        )
      }
      written.set(url, text)
      entries.push({
        url,
        type: entry.type,
        nopush: entry.nopush === true,
        link: preloadLink(url, entry.type, entry.crossorigin, entry.nopush === true),
        pointer: at.pointer,
      })
      ranks.set(url, pushRank(entry, entries.length - 1))
    }
    // Most critical first: pushes take the budget (and the wire) in this order, Link values too.
    entries.sort((a, b) => compareRanks(ranks.get(a.url)!, ranks.get(b.url)!))
    routes.push({ key, matcher, entries })
  }
  return { file, routes }
}

/**
 * What blocks rendering comes first: stylesheets and fonts, then scripts, then the rest
 * (images, fetches, ...). Within a class, a heavier `weight` first (HTTP/2's default 16
 * when none is given), then manifest order; `critical` entries before all of them.
 */
const TYPE_CLASS: Readonly<Record<string, number>> = { style: 0, font: 0, script: 1, document: 1 }

function pushRank(entry: PushManifestEntry, order: number): readonly number[] {
  return [entry.critical === true ? 0 : 1, TYPE_CLASS[entry.type] ?? 2, -(entry.weight ?? 16), order]
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

/** Reads, parses, validates and compiles a manifest file. */
export function loadManifestFile(file: string, options: LoadOptions): CompiledManifest {
  return compileManifest(parseManifestText(readManifestFile(file), file), file, options)
}
