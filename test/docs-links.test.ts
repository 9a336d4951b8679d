/**
 * The relative links of the README and the docs point at files that exist, and their
 * `#anchors` at headings of those files (GitHub's heading ids), so moving text between
 * files cannot leave a dead link behind.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { ROOT } from './helpers/server.js'

/** Files written in another change: their links are checked once they exist. */
const WRITTEN_ELSEWHERE = new Set(['docs/architecture.md', 'docs/options.md'])

const PAGES = ['README.md', 'CHANGELOG.md', 'bench/README.md', ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'))

/** GitHub's id for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingId(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-')
}

function anchors(markdown: string): Set<string> {
  const ids = new Set<string>()
  const seen = new Map<string, number>()
  for (const [, heading] of markdown.replace(/^```[\s\S]*?^```$/gm, '').matchAll(/^#{1,6} (.*)$/gm)) {
    const id = headingId(heading!)
    const n = seen.get(id) ?? 0
    ids.add(n === 0 ? id : `${id}-${n}`)
    seen.set(id, n + 1)
  }
  return ids
}

function links(markdown: string): string[] {
  const text = markdown.replace(/^```[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, (code) => (code.includes('](') ? '' : code))
  return [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((href) => !/^[a-z]+:/i.test(href))
}

test('headingId gives the ids GitHub gives', () => {
  assert.equal(headingId('`pushManifest(options)`: push what a JSON manifest lists'), 'pushmanifestoptions-push-what-a-json-manifest-lists')
  assert.equal(headingId('`createServer(app, options?)`'), 'createserverapp-options')
  assert.equal(headingId('Your own pushes: `getPusher(res)`'), 'your-own-pushes-getpusherres')
  assert.equal(headingId('Behind an edge: H2O, nginx, Apache'), 'behind-an-edge-h2o-nginx-apache')
})

test('every relative link of the README and docs/ resolves, anchors included', (t) => {
  assert.ok(PAGES.includes('docs/api.md') && PAGES.includes('README.md'))
  const dead: string[] = []
  let checked = 0
  for (const page of PAGES) {
    const markdown = readFileSync(join(ROOT, page), 'utf8')
    for (const href of links(markdown)) {
      const [path, anchor] = href.split('#', 2) as [string, string | undefined]
      const target = path === '' ? join(ROOT, page) : join(ROOT, dirname(page), decodeURIComponent(path))
      const name = relative(ROOT, target)
      if (!existsSync(target)) {
        if (WRITTEN_ELSEWHERE.has(name)) t.diagnostic(`${page}: ${href}: ${name} is not written yet`)
        else dead.push(`${page}: ${href} (no ${name})`)
        continue
      }
      checked++
      if (anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) {
        dead.push(`${page}: ${href} (no heading #${anchor} in ${name})`)
      }
    }
  }
  assert.deepEqual(dead, [])
  assert.ok(checked > 20, `${checked} links checked`)
})
