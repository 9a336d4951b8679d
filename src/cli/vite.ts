/**
 * A Vite build manifest (`build.manifest: true`; `<outDir>/.vite/manifest.json` from Vite 5 on,
 * `<outDir>/manifest.json` before): for each HTML entry, what its page loads before it can run,
 * namely the entry chunk, its CSS, and its static imports with their CSS, transitively.
 * Dynamic imports load later, on demand, and are not pushed.
 */
import { readFile } from 'node:fs/promises'
import { H2PushError } from '../errors.js'
import { typeByExtension } from './css-refs.js'

/** One chunk or asset of a Vite manifest; keys of `imports`/`dynamicImports` are manifest keys, the rest output files. */
export interface ViteChunk {
  file: string
  src?: string
  name?: string
  isEntry?: boolean
  isDynamicEntry?: boolean
  css?: string[]
  assets?: string[]
  imports?: string[]
  dynamicImports?: string[]
}

export type ViteManifest = Record<string, ViteChunk>

export interface ViteFile {
  /** Output file, relative to the build folder (`assets/index-B2x.js`). */
  file: string
  type: string
}

export interface VitePage {
  /** The manifest key of the HTML entry (`index.html`, `about/index.html`). */
  html: string
  files: ViteFile[]
}

function invalid(file: string, problem: string, cause?: unknown): H2PushError {
  return new H2PushError(
    'ERR_H2PUSH_VITE_MANIFEST',
    `Vite manifest ${file}: ${problem}. Fix: point --vite at the .vite/manifest.json that \`vite build\` writes with build.manifest: true`,
    cause === undefined ? undefined : { cause },
  )
}

const STRING_LISTS = ['css', 'assets', 'imports', 'dynamicImports'] as const

/** Reads and checks a Vite manifest; throws ERR_H2PUSH_VITE_MANIFEST saying what and where. */
export async function readViteManifest(file: string): Promise<ViteManifest> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw invalid(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err)
  }
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (err) {
    throw invalid(file, `not JSON (${(err as Error).message})`, err)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw invalid(file, 'not an object of chunks by source path')
  for (const [key, chunk] of Object.entries(data)) {
    const at = `chunk ${JSON.stringify(key)}`
    if (typeof chunk !== 'object' || chunk === null || Array.isArray(chunk)) throw invalid(file, `${at} is ${JSON.stringify(chunk)}, not an object`)
    const c = chunk as Record<string, unknown>
    if (typeof c['file'] !== 'string' || c['file'] === '') throw invalid(file, `${at} has no "file" (the output file name)`)
    for (const list of STRING_LISTS) {
      const v = c[list]
      if (v !== undefined && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
        throw invalid(file, `${at}: "${list}" is ${JSON.stringify(v)}, not a list of strings`)
      }
    }
  }
  return data as ViteManifest
}

/** The type to push a Vite output file as: `.css` → style, `.js`/`.mjs` → script, fonts, images. */
export function viteType(file: string): string | undefined {
  if (/\.css$/i.test(file)) return 'style'
  if (/\.m?js$/i.test(file)) return 'script'
  return typeByExtension(file)
}

/** The pages of the HTML entries, each with what it loads first, and notes for what was left out. */
export function vitePages(manifest: ViteManifest): { pages: VitePage[]; notes: string[] } {
  const pages: VitePage[] = []
  const notes: string[] = []
  for (const [key, entry] of Object.entries(manifest)) {
    if (!entry.isEntry) continue
    if (!/\.html?$/i.test(key)) {
      notes.push(`vite: entry ${key} is not an HTML page, so no route is known for it; add its files by hand under the route that loads it`)
      continue
    }
    const files: ViteFile[] = []
    const seenFiles = new Set<string>()
    const seenChunks = new Set<string>()
    const addFile = (file: string): void => {
      if (seenFiles.has(file)) return
      seenFiles.add(file)
      const type = viteType(file)
      if (type) files.push({ file, type })
      else notes.push(`vite: ${key}: skipped ${file}: not a script, stylesheet, font or image`)
    }
    const visit = (chunkKey: string, chunk: ViteChunk): void => {
      if (seenChunks.has(chunkKey)) return
      seenChunks.add(chunkKey)
      addFile(chunk.file)
      for (const css of chunk.css ?? []) addFile(css)
      for (const imported of chunk.imports ?? []) {
        const next = manifest[imported]
        if (next) visit(imported, next)
        else notes.push(`vite: ${key}: import ${imported} is not in the manifest`)
      }
    }
    visit(key, entry)
    pages.push({ html: key, files })
  }
  return { pages, notes }
}
