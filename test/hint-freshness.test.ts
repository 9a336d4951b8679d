/**
 * Hinted assets that a browser cannot reuse: Chromium keeps a 103 Early Hints preload in
 * its HTTP cache and uses it for the page only while it is fresh. Outside production the
 * middleware watches the responses to the URLs it hints (as clients request them through
 * the app) and warns once per asset that is not fresh, naming it, its manifest route and
 * the fix. Real servers on both transports, real HTTP/2 clients with push disabled (as a
 * browser), and headless Chromium for the browser behaviour the warning is about.
 */
import { test, describe, before, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import express from 'express'
import { pushManifest, type PushManifest, type PushManifestOptions } from '../index.js'
import { responseFreshness } from '../src/push/hint-freshness.js'
import { security } from '../middleware/security.js'
import { h2get } from './helpers/h2.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { loadPage, requireChromium, type PageReport } from './helpers/chromium.js'

const SITE = fileURLToPath(new URL('./fixtures/browser/', import.meta.url))
const ASSETS = ['/css/app.css', '/js/report.js'] as const
const MANIFEST: PushManifest = {
  '/page': { '/css/app.css': { type: 'style' }, '/js/report.js': { type: 'script' } },
  '/other': { '/css/app.css': { type: 'style' } },
  '/own': { '/no-lifetime.css': { type: 'style' }, '/no-store.css': { type: 'style' } },
}

interface AppOptions {
  middleware?: Partial<PushManifestOptions>
  static?: Parameters<typeof express.static>[1]
  /** NODE_ENV while the middleware is built (its defaults read it then). */
  env?: string
}

function app(options: AppOptions = {}) {
  const made = express()
  made.use(security())
  const saved = process.env['NODE_ENV']
  process.env['NODE_ENV'] = options.env ?? 'development'
  try {
    made.use(pushManifest({ manifest: MANIFEST, watch: false, ...options.middleware }))
  } finally {
    if (saved === undefined) delete process.env['NODE_ENV']
    else process.env['NODE_ENV'] = saved
  }
  made.get(['/page', '/other', '/own'], (_req, res) => {
    res.type('html').send('<h1>page</h1>')
  })
  made.get('/no-lifetime.css', (_req, res) => {
    res.type('css').send('a {}')
  })
  made.get('/no-store.css', (_req, res) => {
    res.set('cache-control', 'no-store').type('css').send('b {}')
  })
  made.use(express.static(SITE, options.static))
  return made
}

/** console.warn calls from this package while the test runs. */
function warnings(t: TestContext): () => string[] {
  const warn = t.mock.method(console, 'warn', () => {})
  return () => warn.mock.calls.map((call) => String(call.arguments[0])).filter((message) => message.startsWith('express-h2-push:'))
}

/** What a browser does, twice: load the page (its 103 hints the assets), then fetch each asset. */
async function twoVisits(url: string, page = '/page', assets: readonly string[] = ASSETS): Promise<void> {
  for (let visit = 0; visit < 2; visit++) {
    const res = await h2get(url, page, { enablePush: false })
    assert.equal(res.status, 200)
    for (const asset of assets) assert.equal((await h2get(url, asset, { enablePush: false })).status, 200)
  }
}

async function withServer(options: AppOptions, transport: (typeof TRANSPORTS)[number], body: (running: Running) => Promise<void>): Promise<void> {
  const running = await startServer(app(options), { transport })
  try {
    await body(running)
  } finally {
    await running.close()
  }
}

for (const transport of TRANSPORTS) {
  describe(`stale hinted assets (${transport})`, () => {
    test("express.static's default max-age=0: one warning per asset, naming it, its routes and the fix", async (t) => {
      const warned = warnings(t)
      await withServer({}, transport, async (running) => {
        const page = await h2get(running.url, '/page', { enablePush: false })
        assert.equal(page.informational[0]?.[':status'], 103, 'the assets are hinted')
        await twoVisits(running.url)
        await twoVisits(running.url, '/other', ['/css/app.css'])
      })
      const messages = warned()
      assert.equal(messages.length, 2, messages.join('\n'))
      const css = messages.find((m) => m.includes('"/css/app.css"'))
      const js = messages.find((m) => m.includes('"/js/report.js"'))
      assert.ok(css && js, messages.join('\n'))
      assert.match(css, /manifest route "\/page", "\/other"/)
      assert.match(js, /manifest route "\/page"\)/)
      for (const message of messages) {
        assert.match(message, /Cache-Control "public, max-age=0": a lifetime of 0 s/)
        assert.match(message, /Chromium/)
        assert.match(message, /express\.static\(root, \{ maxAge: '1h' \}\)/)
        assert.match(message, /immutable/)
      }
    })

    test("a client that takes push: the pushed responses (dispatched through the app) are not checked, the client's own request is", async (t) => {
      const warned = warnings(t)
      await withServer({}, transport, async (running) => {
        const page = await h2get(running.url, '/page')
        assert.deepEqual(page.pushes.map((p) => p.path).sort(), [...ASSETS].sort())
        assert.ok(page.pushes.every((p) => p.ended))
        assert.deepEqual(warned(), [])
        assert.equal((await h2get(running.url, '/css/app.css')).status, 200)
      })
      assert.equal(warned().length, 1)
      assert.match(warned()[0]!, /"\/css\/app\.css"/)
    })

    test("maxAge: '1h': no warning", async (t) => {
      const warned = warnings(t)
      await withServer({ static: { maxAge: '1h' } }, transport, (running) => twoVisits(running.url))
      assert.deepEqual(warned(), [])
    })

    test('fingerprinted assets (maxAge 1y, immutable): no warning', async (t) => {
      const warned = warnings(t)
      await withServer({ static: { maxAge: '1y', immutable: true } }, transport, (running) => twoVisits(running.url))
      assert.deepEqual(warned(), [])
    })

    test('NODE_ENV=production: no warning, unless warnStaleHints: true', async (t) => {
      const warned = warnings(t)
      await withServer({ env: 'production' }, transport, (running) => twoVisits(running.url))
      assert.deepEqual(warned(), [])
      await withServer({ env: 'production', middleware: { warnStaleHints: true } }, transport, (running) => twoVisits(running.url))
      assert.equal(warned().length, 2)
    })

    test('warnStaleHints: false, or earlyHints: false (nothing is hinted): no warning', async (t) => {
      const warned = warnings(t)
      await withServer({ middleware: { warnStaleHints: false } }, transport, (running) => twoVisits(running.url))
      await withServer({ middleware: { earlyHints: false } }, transport, (running) => twoVisits(running.url))
      assert.deepEqual(warned(), [])
    })

    test('a response with no lifetime, or no-store, is named with its reason; unhinted URLs are not checked', async (t) => {
      const warned = warnings(t)
      await withServer({}, transport, async (running) => {
        await twoVisits(running.url, '/own', ['/no-lifetime.css', '/no-store.css'])
        // Served with max-age=0 too, but never hinted.
        assert.equal((await h2get(running.url, '/index.html', { enablePush: false })).status, 200)
      })
      const messages = warned()
      assert.equal(messages.length, 2, messages.join('\n'))
      assert.match(messages.find((m) => m.includes('"/no-lifetime.css"')) ?? '', /no Cache-Control and no Expires: no explicit lifetime/)
      assert.match(messages.find((m) => m.includes('"/no-store.css"')) ?? '', /Cache-Control "no-store": no-store/)
    })
  })
}

test('warnStaleHints is validated', () => {
  assert.throws(() => pushManifest({ manifest: MANIFEST, watch: false, warnStaleHints: 'yes' as unknown as boolean }), { code: 'ERR_H2PUSH_INVALID_OPTION' })
})

test('responseFreshness: a browser cache reuses only responses with a positive lifetime', () => {
  const now = new Date()
  const later = new Date(now.getTime() + 3600_000).toUTCString()
  const rows: Array<[Parameters<typeof responseFreshness>[0], boolean]> = [
    [{ cacheControl: 'public, max-age=0' }, false],
    [{ cacheControl: 'public, max-age=3600' }, true],
    [{ cacheControl: 'public, max-age=31536000, immutable' }, true],
    [{ cacheControl: 'max-age="60"' }, true],
    [{ cacheControl: 'max-age=60', age: '60' }, false],
    [{ cacheControl: 'max-age=3600, no-cache' }, false],
    [{ cacheControl: 'no-store, max-age=3600' }, false],
    [{ cacheControl: 'max-age=-1' }, false],
    [{ cacheControl: 's-maxage=3600' }, false],
    [{ cacheControl: 'max-age=0', expires: later }, false],
    [{ expires: later, date: now.toUTCString() }, true],
    [{ expires: '0' }, false],
    [{ expires: now.toUTCString(), date: now.toUTCString() }, false],
    [{}, false],
  ]
  for (const [headers, fresh] of rows) assert.equal(responseFreshness(headers).fresh, fresh, JSON.stringify(headers))
})

// The browser behaviour the warning is about, in headless Chromium.
interface Visit {
  report: PageReport
  /** Requests per asset URL the server answered. */
  requests: Map<string, number>
  /** Chromium fetched the hinted assets (the 103 preloads) before the page answered. */
  preloadedFirst: boolean
  messages: string[]
}

/** One cold page load by Chromium of a manifest page whose assets express.static serves with `maxAge`. */
async function chromiumVisit(warned: () => string[], transport: (typeof TRANSPORTS)[number], maxAge: string | number): Promise<Visit> {
  const before = warned().length
  const requests = new Map<string, number>()
  let preloadedFirst = false
  let preloaded: () => void = () => {}
  const preloads = new Promise<void>((resolve) => (preloaded = resolve))
  const made = express()
  made.use(security())
  made.use(pushManifest({ manifest: { '/': { '/css/app.css': { type: 'style' }, '/js/report.js': { type: 'script' } } }, watch: false, warnStaleHints: true }))
  made.use((req, res, next) => {
    if ((ASSETS as readonly string[]).includes(req.path)) {
      res.once('finish', () => {
        requests.set(req.path, (requests.get(req.path) ?? 0) + 1)
        if (ASSETS.every((asset) => requests.has(asset))) preloaded()
      })
    }
    next()
  })
  // The page answers once Chromium has its preloads (the responses to the hinted URLs have
  // gone out), or after 2 s if it never sends them (within Chromium's 5 s budget).
  made.get('/', (_req, _res, next) => {
    const timer = setTimeout(preloaded, 2000)
    void preloads.then(() => {
      clearTimeout(timer)
      preloadedFirst = ASSETS.every((asset) => requests.has(asset))
      next()
    })
  })
  made.use(express.static(SITE, { maxAge }))
  const running = await startServer(made, { transport })
  try {
    let report: PageReport
    try {
      ;({ report } = await loadPage(`https://localhost:${running.port}/`))
    } catch (err) {
      // A page that never got its preloads may also miss Chromium's time budget: load again.
      if (preloadedFirst) throw err
      report = { protocol: '', entries: [] }
    }
    return { report, requests, preloadedFirst, messages: warned().slice(before) }
  } finally {
    await running.close()
  }
}

for (const transport of TRANSPORTS) {
  describe(`headless Chromium reuses only fresh early-hints preloads (${transport})`, () => {
    before(requireChromium)

    for (const [maxAge, reused] of [
      ['1h', true],
      [0, false],
    ] as const) {
      const outcome = reused
        ? "taken from the 103 (initiatorType 'early-hints', one request each), no warning"
        : "fetched again (not 'early-hints', two requests each), one warning per asset"
      test(`maxAge ${JSON.stringify(maxAge)}: the assets are ${outcome}`, async (t) => {
        // On a loaded machine Chromium now and then starts the preloads too late, or not at
        // all; such a load says nothing about reuse and is tried again (at most 3 loads).
        const warned = warnings(t)
        let visit = await chromiumVisit(warned, transport, maxAge)
        for (let retry = 1; retry <= 2 && !visit.preloadedFirst; retry++) {
          t.diagnostic(`load ${retry}: Chromium did not preload before the page answered; loading again`)
          visit = await chromiumVisit(warned, transport, maxAge)
        }
        const { report, requests, preloadedFirst, messages } = visit
        const seen = JSON.stringify({ entries: report.entries, requests: [...requests] })
        assert.ok(preloadedFirst, `Chromium did not fetch the hinted assets before the page: ${seen}`)
        assert.equal(report.protocol, 'h2')
        for (const asset of ASSETS) {
          const entry = report.entries.find((e) => e.path === asset)
          assert.ok(entry, seen)
          if (reused) assert.equal(entry.initiatorType, 'early-hints', seen)
          else assert.notEqual(entry.initiatorType, 'early-hints', seen)
          assert.equal(requests.get(asset), reused ? 1 : 2, seen)
        }
        assert.equal(messages.length, reused ? 0 : ASSETS.length, messages.join('\n'))
        for (const asset of reused ? [] : ASSETS)
          assert.ok(
            messages.some((m) => m.includes(JSON.stringify(asset))),
            messages.join('\n'),
          )
      })
    }
  })
}
