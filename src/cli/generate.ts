/**
 * `express-h2-push generate <dir>`: reads the HTML files of a built site and writes
 * the push manifest of what each page needs first: stylesheets, scripts (module ones
 * too), `link rel=preload|modulepreload` (fonts included), images with
 * `fetchpriority=high`. Keys are routes (`index.html` → `/`, `about/index.html` →
 * `/about`); URLs are same-origin paths. Parsed with htmlparser2, not regexes.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { Parser } from 'htmlparser2'
import { compileManifest, type PushManifest, type PushManifestEntry } from '../manifest/load.js'

export interface GenerateOptions {
  /** URL path the site is served under. Default "/". */
  base: string
}

export interface Generated {
  manifest: PushManifest
  /** What was left out, and why (cross-origin, data: URLs, ...). */
  notes: string[]
}

const ORIGIN = 'https://site.invalid'
const SKIPPED_DIRS = new Set(['node_modules', '.git'])

async function htmlFiles(dir: string): Promise<string[]> {
  const found: string[] = []
  const walk = async (folder: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true })
    entries.sort((a, b) => a.name.localeCompare(b.name))
    for (const entry of entries) {
      const path = join(folder, entry.name)
      if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name)) await walk(path)
      else if (entry.isFile() && /\.html?$/i.test(entry.name)) found.push(path)
    }
  }
  await walk(dir)
  return found
}

/** The route that serves an HTML file: `index.html` → `/`, `about/index.html` → `/about`, `a.html` → `/a.html`. */
export function routeFor(file: string, base: string): string {
  const path = file.split(sep).join('/')
  const prefix = base.endsWith('/') ? base : `${base}/`
  const index = /^(.*?)\/?index\.html?$/i.exec(path)
  if (index) return index[1] === '' ? prefix : `${prefix}${index[1]}`
  return `${prefix}${path}`
}

interface Found {
  href: string
  type: string
  crossorigin?: boolean | 'anonymous' | 'use-credentials'
}

function crossoriginOf(attributes: Record<string, string>): Found['crossorigin'] {
  if (!('crossorigin' in attributes)) return undefined
  return attributes['crossorigin'] === 'use-credentials' ? 'use-credentials' : true
}

/** What one page references that it needs first, in document order. */
export function collect(html: string): Found[] {
  const found: Found[] = []
  const add = (href: string | undefined, type: string, attributes: Record<string, string>): void => {
    if (!href) return
    const crossorigin = crossoriginOf(attributes)
    found.push(crossorigin === undefined ? { href, type } : { href, type, crossorigin })
  }
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        const rel = (attributes['rel'] ?? '').toLowerCase().split(/\s+/)
        if (name === 'link' && rel.includes('stylesheet')) add(attributes['href'], 'style', attributes)
        else if (name === 'link' && rel.includes('modulepreload')) add(attributes['href'], 'script', attributes)
        else if (name === 'link' && rel.includes('preload') && attributes['as']) add(attributes['href'], attributes['as'].toLowerCase(), attributes)
        else if (name === 'script' && attributes['src']) add(attributes['src'], 'script', attributes)
        else if (name === 'img' && (attributes['fetchpriority'] ?? '').toLowerCase() === 'high') add(attributes['src'], 'image', attributes)
      },
    },
    { decodeEntities: true, lowerCaseAttributeNames: true },
  )
  parser.end(html)
  return found
}

/** Builds the manifest for the HTML files under `dir`, validated against the schema. */
export async function generateManifest(dir: string, options: GenerateOptions): Promise<Generated> {
  const manifest: PushManifest = {}
  const notes: string[] = []
  for (const file of await htmlFiles(dir)) {
    const rel = relative(dir, file)
    const route = routeFor(rel, options.base)
    const pageUrl = new URL(`${options.base.endsWith('/') ? options.base : options.base + '/'}${rel.split(sep).join('/')}`, ORIGIN)
    const entries: Record<string, PushManifestEntry> = {}
    for (const item of collect(await readFile(file, 'utf8'))) {
      let url: URL
      try {
        url = new URL(item.href, pageUrl)
      } catch {
        notes.push(`${rel}: skipped ${JSON.stringify(item.href)}: not a URL`)
        continue
      }
      if (url.protocol === 'data:' || url.protocol === 'blob:') {
        notes.push(`${rel}: skipped a ${url.protocol} URL (inline, nothing to push)`)
        continue
      }
      if (url.origin !== ORIGIN) {
        notes.push(`${rel}: skipped ${item.href}: cross-origin (only same-origin resources can be pushed)`)
        continue
      }
      const path = `${url.pathname}${url.search}`
      if (entries[path]) continue
      const entry: PushManifestEntry = { type: item.type }
      if (item.crossorigin !== undefined) entry.crossorigin = item.crossorigin
      entries[path] = entry
    }
    if (Object.keys(entries).length > 0) manifest[route] = entries
  }
  compileManifest(manifest, '(generated)', { maxEntriesPerRoute: Number.MAX_SAFE_INTEGER })
  return { manifest, notes }
}

/** Stable JSON for a manifest: routes and URLs in the order generated. */
export function manifestJson(manifest: PushManifest, schemaRef: string | undefined): string {
  return JSON.stringify(schemaRef ? { $schema: schemaRef, ...manifest } : manifest, null, 2) + '\n'
}

function canonical(entry: PushManifestEntry): string {
  return JSON.stringify(Object.fromEntries(Object.entries(entry).sort(([a], [b]) => a.localeCompare(b))))
}

/** The differences between two manifests, one line each (empty when equal). */
export function manifestDrift(expected: PushManifest, actual: PushManifest): string[] {
  const lines: string[] = []
  const routes = new Set([...Object.keys(expected), ...Object.keys(actual)].filter((k) => k !== '$schema'))
  for (const route of routes) {
    const want = expected[route]
    const have = actual[route]
    if (!have) {
      lines.push(`route ${route}: missing (the site has it)`)
      continue
    }
    if (!want) {
      lines.push(`route ${route}: not in the site any more`)
      continue
    }
    for (const url of new Set([...Object.keys(want), ...Object.keys(have)])) {
      if (!have[url]) lines.push(`route ${route}: ${url} missing`)
      else if (!want[url]) lines.push(`route ${route}: ${url} not referenced by the page any more`)
      else if (canonical(want[url]) !== canonical(have[url])) {
        lines.push(`route ${route}: ${url} is ${JSON.stringify(have[url])}, the page needs ${JSON.stringify(want[url])}`)
      }
    }
  }
  return lines
}
