/**
 * Route keys → matchers, and the table the middleware looks paths up in.
 * Express-style patterns are matched with path-to-regexp, the library Express 5's
 * router uses (same major version), case-insensitive with an optional trailing slash
 * as Express routes are by default.
 */
import { pathToRegexp } from 'path-to-regexp'

export type RouteMatcher = { readonly kind: 'exact'; readonly paths: readonly string[] } | { readonly kind: 'pattern' | 'regexp'; test(path: string): boolean }

const PATTERN_SYNTAX = /[:*{}()?+]/

/** `/About/` and `/about` are one route for Express's default (non-strict, case-insensitive) routing. */
export function normalizePath(path: string): string {
  const lower = path.toLowerCase()
  return lower.length > 1 && lower.endsWith('/') ? lower.replace(/\/+$/, '') || '/' : lower
}

/** The URL paths that serve an HTML file: `index.html` → `/`, `about/index.html` → `/about`. */
function htmlFilePaths(file: string): string[] {
  const path = '/' + file.replace(/^\.\//, '')
  const index = /^(.*\/)index\.html?$/i.exec(path)
  if (index) return [index[1]!, path]
  return [path, path.replace(/\.html?$/i, '')]
}

/** Compiles a manifest key; throws (with the library's message) when it does not compile. */
export function compileRouteKey(key: string): RouteMatcher {
  if (key.startsWith('^')) {
    const regexp = new RegExp(key)
    return { kind: 'regexp', test: (path) => regexp.test(path) }
  }
  if (!key.startsWith('/')) return { kind: 'exact', paths: htmlFilePaths(key).map(normalizePath) }
  if (!PATTERN_SYNTAX.test(key)) return { kind: 'exact', paths: [normalizePath(key)] }
  let wildcard = 0
  // Express 4 style "/docs/*" → Express 5 "/docs/*wildcard0".
  const pattern = key.replace(/\*(?![A-Za-z_$])/g, () => `*wildcard${wildcard++}`)
  const { regexp } = pathToRegexp(pattern, { sensitive: false, trailing: true, end: true })
  return { kind: 'pattern', test: (path) => regexp.test(path) }
}

/**
 * Looks a request path up: the entries of every route that matches, each URL once: the
 * exact routes' first (in manifest order), then each matching pattern's, in manifest order;
 * within a route, most critical first (see `compileManifest`).
 */
export interface RouteTable<T extends { readonly url: string }> {
  lookup(path: string): readonly T[]
}

export function createRouteTable<T extends { readonly url: string }>(
  routes: ReadonlyArray<{ readonly matcher: RouteMatcher; readonly entries: readonly T[] }>,
): RouteTable<T> {
  const exact = new Map<string, T[]>()
  const dynamic: Array<{ test(path: string): boolean; entries: readonly T[] }> = []
  const merge = (into: T[], entries: readonly T[]): void => {
    for (const entry of entries) if (!into.some((e) => e.url === entry.url)) into.push(entry)
  }
  for (const route of routes) {
    if (route.matcher.kind === 'exact') {
      for (const path of route.matcher.paths) {
        const list = exact.get(path) ?? []
        merge(list, route.entries)
        exact.set(path, list)
      }
    } else {
      dynamic.push({ test: route.matcher.test, entries: route.entries })
    }
  }
  const none: readonly T[] = Object.freeze([])
  return {
    lookup(path) {
      const found = exact.get(normalizePath(path))
      let result: T[] | undefined
      for (const route of dynamic) {
        if (!route.test(path)) continue
        result ??= found ? [...found] : []
        merge(result, route.entries)
      }
      return result ?? found ?? none
    },
  }
}
