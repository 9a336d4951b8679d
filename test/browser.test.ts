/**
 * A real browser: headless Chromium (Debian's `chromium`) navigates to a manifest page
 * on each transport. Chromium refuses push (SETTINGS_ENABLE_PUSH = 0), so the page's
 * assets must arrive through the 103 Early Hints the middleware sends instead:
 * their resource timing says `initiatorType: 'early-hints'`. Chromium only acts on
 * early hints over a connection whose certificate it trusts, so the test certificate
 * is trusted by its SPKI hash (not --ignore-certificate-errors, under which it
 * ignores them); and it reuses the preloaded responses only when they are fresh
 * (a positive max-age), else the page fetches them again.
 */
import { test, describe, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import express from 'express'
import { pushManifest } from '../index.js'
import { security } from '../middleware/security.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { loadPage, requireChromium } from './helpers/chromium.js'

const SITE = fileURLToPath(new URL('./fixtures/browser/', import.meta.url))

for (const transport of TRANSPORTS) {
  describe(`headless Chromium (${transport})`, () => {
    let running: Running
    before(async () => {
      await requireChromium()
      const app = express()
      app.use(security())
      app.use(
        pushManifest({ manifest: { 'index.html': { '/css/app.css': { type: 'style' }, '/js/report.js': { type: 'script' } } }, root: SITE, watch: false }),
      )
      // The page takes a moment to render, as real pages do: the hints go out first.
      app.get('/', (_req, _res, next) => {
        setTimeout(next, 200)
      })
      // Chromium reuses early-hints preloads through its HTTP cache: they must be fresh (max-age > 0).
      app.use(express.static(SITE, { maxAge: '1h' }))
      running = await startServer(app, { transport })
    })
    after(() => running?.close())

    test('the manifest page loads over HTTP/2 with its assets preloaded by 103 Early Hints', async () => {
      const { report, stderr } = await loadPage(`https://localhost:${running.port}/`)
      assert.equal(report.protocol, 'h2')
      const byPath = new Map(report.entries.map((e) => [e.path, e]))
      assert.equal(byPath.get('/css/app.css')?.initiatorType, 'early-hints', JSON.stringify(report.entries))
      assert.equal(byPath.get('/js/report.js')?.initiatorType, 'early-hints', JSON.stringify(report.entries))
      assert.doesNotMatch(stderr, /ERR_HTTP2_PROTOCOL_ERROR|ERR_SSL|ERR_CERT/)
    })
  })
}
