/**
 * The relative imports between the package's own modules, and the cycles among them.
 * Used by test/code-shape.test.ts; also a script:
 *
 *   node --import tsx test/helpers/import-graph.ts   (prints each cycle; exits 1 if any)
 *
 * Type-only imports count too: a cycle of types is still a tangle to read.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** Every static `import`/`export ... from` and dynamic `import()` of a relative path. */
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'"]*?\sfrom\s*['"](\.{1,2}\/[^'"]+)['"]|(?:^|\n)\s*import\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

function sourcesUnder(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)))
}

/** Module → the modules it imports (paths from the package root, `.ts`). */
export function importGraph(entries: readonly string[] = ['index.ts', 'src', 'middleware']): Map<string, string[]> {
  const files = entries.flatMap((e) => (e.endsWith('.ts') ? [e] : sourcesUnder(e)))
  const graph = new Map<string, string[]>()
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8')
    const targets = new Set<string>()
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!
      targets.add(relative(root, resolve(root, dirname(file), spec.replace(/\.js$/, '.ts'))))
    }
    graph.set(file, [...targets].sort())
  }
  return graph
}

/** Each cycle once, as the modules on it in import order (Tarjan's strongly connected components). */
export function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0
  const indices = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (node: string): void => {
    indices.set(node, index)
    low.set(node, index++)
    stack.push(node)
    onStack.add(node)
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue
      if (!indices.has(next)) {
        visit(next)
        low.set(node, Math.min(low.get(node)!, low.get(next)!))
      } else if (onStack.has(next)) low.set(node, Math.min(low.get(node)!, indices.get(next)!))
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = []
      let member: string
      do {
        member = stack.pop()!
        onStack.delete(member)
        component.push(member)
      } while (member !== node)
      if (component.length > 1 || graph.get(node)?.includes(node)) found.push(component.reverse())
    }
  }
  for (const node of graph.keys()) if (!indices.has(node)) visit(node)
  return found
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const found = cycles(importGraph())
  for (const cycle of found) console.log(`cycle: ${cycle.join(' → ')}`)
  console.log(`${found.length} cycle(s)`)
  process.exitCode = found.length > 0 ? 1 : 0
}
