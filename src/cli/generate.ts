/**
 * `express-h2-push generate <dir>`: reads the HTML files of a built site and writes
 * the push manifest of what each page needs first: stylesheets, scripts (module ones
 * too), `link rel=preload|modulepreload` (fonts included), images with
 * `fetchpriority=high` (the 1x candidate of `srcset`/`imagesrcset`), and what those
 * stylesheets load in turn (`@import`, `@font-face` fonts, `url()` images). URLs resolve
 * against `<base href>`. With a Vite build (`.vite/manifest.json`, or `vite`), each HTML
 * entry also gets its chunk, its CSS and its static imports, transitively. Keys are routes
 * (`index.html` → `/`, `about/index.html` → `/about`); URLs are same-origin paths.
 * Parsed with htmlparser2 and css-tree, not regexes.
 */
import { access, readdir, readFile } from 'node:fs/promises'
import { join, relative, resolve, sep } from 'node:path'
import { Parser } from 'htmlparser2'
import { compileManifest, type PushManifest, type PushManifestEntry } from '../manifest/load.js'
import { isPushDestination } from '../manifest/schema.js'
import { cssReferences, type CssReferences } from './css-refs.js'
import { pickCandidate } from './srcset.js'
import { readViteManifest, vitePages } from './vite.js'

export interface GenerateOptions {
  /** URL path the site is served under. Default "/". */
  base: string
  /** A Vite build manifest to read. Default: `<dir>/.vite/manifest.json` when it exists. */
  vite?: string | undefined
}

export interface Generated {
  manifest: PushManifest
  /** What was left out, and why (cross-origin, data: URLs, ...). */
  notes: string[]
  /** The Vite manifest that was read, if any. */
  vite?: string
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

type Crossorigin = boolean | 'anonymous' | 'use-credentials'

interface Found {
  href: string
  type: string
  crossorigin?: Crossorigin
}

/** What one page references that it needs first, in document order, and its `<base href>`. */
export interface Page {
  found: Found[]
  base?: string
  notes: string[]
}

function crossoriginOf(attributes: Record<string, string>): Found['crossorigin'] {
  if (!('crossorigin' in attributes)) return undefined
  return attributes['crossorigin'] === 'use-credentials' ? 'use-credentials' : true
}

/** What one page references that it needs first, in document order. */
export function collect(html: string): Page {
  const page: Page = { found: [], notes: [] }
  const add = (href: string | undefined, type: string, attributes: Record<string, string>): void => {
    if (!href) return
    const crossorigin = crossoriginOf(attributes)
    page.found.push(crossorigin === undefined ? { href, type } : { href, type, crossorigin })
  }
  const addImage = (srcset: string | undefined, fallback: string | undefined, attribute: string, attributes: Record<string, string>): void => {
    if (srcset === undefined) return add(fallback, 'image', attributes)
    const picked = pickCandidate(srcset, fallback)
    if ('reason' in picked) return void page.notes.push(`skipped ${attribute} ${JSON.stringify(srcset)}: ${picked.reason}`)
    for (const other of picked.skipped) page.notes.push(`skipped ${other} of ${attribute}: another density (the 1x candidate ${picked.url} is pushed)`)
    add(picked.url, 'image', attributes)
  }
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        const rel = (attributes['rel'] ?? '').toLowerCase().split(/\s+/)
        const as = (attributes['as'] ?? '').toLowerCase()
        if (name === 'base' && page.base === undefined && attributes['href'] !== undefined) page.base = attributes['href']
        else if (name === 'link' && rel.includes('stylesheet')) add(attributes['href'], 'style', attributes)
        else if (name === 'link' && rel.includes('modulepreload')) add(attributes['href'], 'script', attributes)
        else if (name === 'link' && rel.includes('preload') && as === 'image')
          addImage(attributes['imagesrcset'], attributes['href'], 'imagesrcset', attributes)
        else if (name === 'link' && rel.includes('preload') && as) add(attributes['href'], as, attributes)
        else if (name === 'script' && attributes['src']) add(attributes['src'], 'script', attributes)
        else if (name === 'img' && (attributes['fetchpriority'] ?? '').toLowerCase() === 'high')
          addImage(attributes['srcset'], attributes['src'], 'srcset', attributes)
      },
    },
    { decodeEntities: true, lowerCaseAttributeNames: true },
  )
  parser.end(html)
  return page
}

/** The manifest entries of one route, in the order found, with what their stylesheets load. */
class RouteEntries {
  readonly entries: Record<string, PushManifestEntry> = {}

  constructor(private readonly site: Site) {}

  /** Adds `href` (resolved against `from`) unless it cannot be pushed; a stylesheet brings what it loads. */
  async add(href: string, type: string, from: URL, label: string, crossorigin?: Crossorigin): Promise<void> {
    let url: URL
    try {
      url = new URL(href, from)
    } catch {
      this.site.notes.push(`${label}: skipped ${JSON.stringify(href)}: not a URL`)
      return
    }
    if (url.protocol === 'data:' || url.protocol === 'blob:') {
      this.site.notes.push(`${label}: skipped a ${url.protocol} URL (inline, nothing to push)`)
      return
    }
    if (url.origin !== ORIGIN) {
      const shown = /^([a-z][a-z\d+.-]*:|\/\/)/i.test(href) ? href : `${href} (${url.href})`
      this.site.notes.push(`${label}: skipped ${shown}: cross-origin (only same-origin resources can be pushed)`)
      return
    }
    if (!isPushDestination(type)) {
      this.site.notes.push(`${label}: skipped ${href}: as=${JSON.stringify(type)} is not a fetch destination a preload takes`)
      return
    }
    const path = `${url.pathname}${url.search}`
    if (this.entries[path]) return
    const entry: PushManifestEntry = { type }
    if (crossorigin !== undefined) entry.crossorigin = crossorigin
    this.entries[path] = entry
    if (type !== 'style') return
    const css = await this.site.stylesheet(url)
    // Fonts are always fetched in CORS mode, so their preload needs `crossorigin`.
    for (const ref of css?.references ?? []) await this.add(ref.href, ref.type, url, url.pathname, ref.type === 'font' ? true : undefined)
  }
}

/** The built site being read: its folder, URL prefix, notes, and the stylesheets read so far. */
class Site {
  readonly notes: string[] = []
  readonly prefix: string
  private readonly css = new Map<string, CssReferences | undefined>()

  constructor(
    readonly dir: string,
    base: string,
  ) {
    this.prefix = base.endsWith('/') ? base : `${base}/`
  }

  /** The file of the folder that serves a same-origin URL, if it is under the prefix. */
  fileFor(url: URL): string | undefined {
    let path: string
    try {
      path = decodeURIComponent(url.pathname)
    } catch {
      return undefined
    }
    if (!path.startsWith(this.prefix)) return undefined
    const file = resolve(this.dir, path.slice(this.prefix.length))
    return file.startsWith(this.dir + sep) ? file : undefined
  }

  /** What a stylesheet of the site loads; read and parsed once, its notes given once. */
  async stylesheet(url: URL): Promise<CssReferences | undefined> {
    const file = this.fileFor(url)
    if (file === undefined) {
      this.notes.push(`${url.pathname}: not under --base ${this.prefix}, so what it loads (fonts, images) is not read`)
      return undefined
    }
    if (this.css.has(file)) return this.css.get(file)
    let refs: CssReferences | undefined
    try {
      refs = cssReferences(await readFile(file, 'utf8'))
      for (const note of refs.notes) this.notes.push(`${url.pathname}: ${note}`)
    } catch {
      this.notes.push(`${url.pathname}: not found as ${relative(this.dir, file)}, so what it loads (fonts, images) is not read`)
    }
    this.css.set(file, refs)
    return refs
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  )
}

/** Builds the manifest for the HTML files under `dir` (and its Vite manifest), validated against the schema. */
export async function generateManifest(dir: string, options: GenerateOptions): Promise<Generated> {
  const site = new Site(resolve(dir), options.base)
  const routes = new Map<string, RouteEntries>()
  const routeEntries = (route: string): RouteEntries => {
    let entries = routes.get(route)
    if (!entries) {
      entries = new RouteEntries(site)
      routes.set(route, entries)
    }
    return entries
  }
  for (const file of await htmlFiles(site.dir)) {
    const rel = relative(site.dir, file)
    const entries = routeEntries(routeFor(rel, options.base))
    const pageUrl = new URL(`${site.prefix}${rel.split(sep).join('/')}`, ORIGIN)
    const page = collect(await readFile(file, 'utf8'))
    for (const note of page.notes) site.notes.push(`${rel}: ${note}`)
    let base = pageUrl
    if (page.base !== undefined) {
      try {
        base = new URL(page.base, pageUrl)
      } catch {
        site.notes.push(`${rel}: <base href=${JSON.stringify(page.base)}> is not a URL; URLs resolve against the page`)
      }
    }
    for (const item of page.found) await entries.add(item.href, item.type, base, rel, item.crossorigin)
  }
  const viteFile = options.vite ?? ((await exists(join(site.dir, '.vite', 'manifest.json'))) ? join(site.dir, '.vite', 'manifest.json') : undefined)
  if (viteFile !== undefined) {
    const { pages, notes } = vitePages(await readViteManifest(viteFile))
    site.notes.push(...notes)
    const root = new URL(site.prefix, ORIGIN)
    for (const page of pages) {
      const entries = routeEntries(routeFor(page.html, options.base))
      // Vite loads its scripts and stylesheets with `crossorigin`.
      for (const { file, type } of page.files) await entries.add(file, type, root, `vite: ${page.html}`, type === 'image' ? undefined : true)
    }
  }
  const manifest: PushManifest = {}
  for (const [route, { entries }] of routes) if (Object.keys(entries).length > 0) manifest[route] = entries
  compileManifest(manifest, '(generated)', { maxEntriesPerRoute: Number.MAX_SAFE_INTEGER })
  const notes = [...new Set(site.notes)]
  return viteFile === undefined ? { manifest, notes } : { manifest, notes, vite: viteFile }
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
