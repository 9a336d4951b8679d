/**
 * Route keys → request paths, and the Link values built for entries.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { compileRouteKey, createRouteTable } from '../src/manifest/match.js'
import { preloadLink } from '../src/manifest/link.js'

function matches(key: string, path: string): boolean {
  const table = createRouteTable([{ matcher: compileRouteKey(key), entries: [{ url: '/x' }] }])
  return table.lookup(path).length > 0
}

const CASES: Array<[key: string, path: string, expected: boolean]> = [
  ['/', '/', true],
  ['/', '/index.html', false],
  ['/about', '/about', true],
  ['/about', '/about/', true],
  ['/about', '/About', true],
  ['/about', '/about/team', false],
  ['/users/:id', '/users/42', true],
  ['/users/:id', '/users/42/', true],
  ['/users/:id', '/users', false],
  ['/users/:id', '/users/42/posts', false],
  ['/docs/*', '/docs/a/b/c', true],
  ['/docs/*', '/docs', false],
  ['/docs/*path', '/docs/intro', true],
  ['/file{.:ext}', '/file.txt', true],
  ['/file{.:ext}', '/file', true],
  ['^/blog/[0-9]+$', '/blog/12', true],
  ['^/blog/[0-9]+$', '/blog/x', false],
  ['^/blog/', '/blog/anything/else', true],
  ['index.html', '/', true],
  ['index.html', '/index.html', true],
  ['index.html', '/other', false],
  ['about/index.html', '/about', true],
  ['about/index.html', '/about/', true],
  ['about/index.html', '/about/index.html', true],
  ['contact.html', '/contact.html', true],
  ['contact.html', '/contact', true],
]

describe('route keys', () => {
  for (const [key, path, expected] of CASES) {
    test(`${key} ${expected ? 'matches' : 'does not match'} ${path}`, () => {
      assert.equal(matches(key, path), expected)
    })
  }

  test('entries of every matching route, in manifest order, each URL once', () => {
    const table = createRouteTable([
      { matcher: compileRouteKey('/docs/*'), entries: [{ url: '/docs.css' }, { url: '/app.js' }] },
      { matcher: compileRouteKey('/docs/intro'), entries: [{ url: '/intro.css' }, { url: '/app.js' }] },
      { matcher: compileRouteKey('^/docs/'), entries: [{ url: '/docs.css' }, { url: '/search.js' }] },
    ])
    assert.deepEqual(
      table.lookup('/docs/intro').map((e) => e.url),
      ['/intro.css', '/app.js', '/docs.css', '/search.js'],
    )
    assert.deepEqual(
      table.lookup('/docs/other').map((e) => e.url),
      ['/docs.css', '/app.js', '/search.js'],
    )
    assert.deepEqual(table.lookup('/nothing'), [])
  })

  test('a path that matches one exact route returns its list without copying', () => {
    const entries = [{ url: '/a.css' }]
    const table = createRouteTable([{ matcher: compileRouteKey('/a'), entries }])
    assert.equal(table.lookup('/a'), table.lookup('/A/'))
  })
})

describe('Link values', () => {
  const LINKS: Array<[Parameters<typeof preloadLink>, string]> = [
    [['/a.css', 'style', undefined, false], '</a.css>; rel=preload; as=style'],
    [['/a.js', 'script', true, false], '</a.js>; rel=preload; as=script; crossorigin'],
    [['/a.js', 'script', 'anonymous', false], '</a.js>; rel=preload; as=script; crossorigin'],
    [['/a.json', 'fetch', 'use-credentials', false], '</a.json>; rel=preload; as=fetch; crossorigin=use-credentials'],
    [['/f.woff2', 'font', undefined, false], '</f.woff2>; rel=preload; as=font; crossorigin'],
    [['/f.woff2', 'font', false, false], '</f.woff2>; rel=preload; as=font'],
    [['/a.css', 'style', undefined, true], '</a.css>; rel=preload; as=style; nopush'],
    [['/q?a=<b>', 'fetch', undefined, false], '</q?a=%3Cb%3E>; rel=preload; as=fetch'],
  ]
  for (const [args, expected] of LINKS) {
    test(expected, () => assert.equal(preloadLink(...args), expected))
  }
})
