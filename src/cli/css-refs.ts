/**
 * What a stylesheet makes the browser fetch next: `@import`ed stylesheets, the font of each
 * `@font-face`, and images named by `url()` in declarations (backgrounds, masks, ...).
 * Parsed with css-tree (it decodes quotes and escapes of `url()` and strings), not regexes.
 */
import { parse, walk, type CssNode, type Declaration, type WalkContext } from 'css-tree'

export interface CssReference {
  /** The URL as written (decoded), relative to the stylesheet. */
  href: string
  /** `style` for `@import`, `font` for `@font-face` sources, `image` for the rest. */
  type: 'style' | 'font' | 'image'
}

export interface CssReferences {
  references: CssReference[]
  /** What was left out, and why. */
  notes: string[]
}

const FONT = /\.(woff2?|ttf|otf|eot)$/i
const IMAGE = /\.(png|jpe?g|gif|webp|avif|svg|ico|bmp|cur)$/i

/** The type to push a URL found in CSS as, by its file extension; undefined when not a font or an image. */
export function typeByExtension(pathname: string): 'font' | 'image' | undefined {
  if (FONT.test(pathname)) return 'font'
  if (IMAGE.test(pathname)) return 'image'
  return undefined
}

function importTarget(node: CssNode): string | undefined {
  if (node.type !== 'Atrule' || node.name.toLowerCase() !== 'import' || !node.prelude || node.prelude.type !== 'AtrulePrelude') return undefined
  const first = node.prelude.children.first
  if (first?.type === 'String' || first?.type === 'Url') return first.value
  return undefined
}

/**
 * The fetches a stylesheet starts, in source order. Of an `@font-face`'s `src` list only the
 * first `url()` is taken: browsers fetch the first format they support, and builds list
 * the one every current browser supports (WOFF2) first; the others are noted.
 */
export function cssReferences(css: string): CssReferences {
  const references: CssReference[] = []
  const notes: string[] = []
  const ast = parse(css, { parseCustomProperty: false, onParseError: () => {} })
  const fontSources = new Set<Declaration>()
  walk(ast, {
    enter(this: WalkContext, node: CssNode) {
      const imported = importTarget(node)
      if (imported !== undefined) {
        references.push({ href: imported, type: 'style' })
        return walk.skip
      }
      if (node.type !== 'Url') return undefined
      const href = node.value.trim()
      if (href === '' || href.startsWith('#')) return undefined
      const declaration = this.declaration
      if (this.atrule?.name.toLowerCase() === 'font-face' && declaration?.property.toLowerCase() === 'src') {
        if (fontSources.has(declaration)) {
          notes.push(`skipped ${href}: a fallback format of an @font-face (browsers fetch the first one they support)`)
          return undefined
        }
        fontSources.add(declaration)
        references.push({ href, type: 'font' })
        return undefined
      }
      if (!declaration) return undefined
      if (/^(data|blob):/i.test(href)) {
        references.push({ href, type: 'image' })
        return undefined
      }
      const type = typeByExtension(href.replace(/[?#].*$/, ''))
      if (type) references.push({ href, type })
      else notes.push(`skipped ${href} (${declaration.property}): neither a font nor an image by its extension`)
      return undefined
    },
  })
  return { references, notes }
}
