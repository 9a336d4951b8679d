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
import { execFile } from 'node:child_process'
import { createHash, createPublicKey } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import express from 'express'
import { pushManifest } from '../src/index.js'
import { security } from '../middleware/security.js'
import { startServer, TRANSPORTS, type Running } from './helpers/server.js'
import { testCertificate } from './helpers/tls.js'

const run = promisify(execFile)
const SITE = fileURLToPath(new URL('./fixtures/browser/', import.meta.url))
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium'

interface Report {
  protocol: string
  entries: Array<{ path: string; initiatorType: string; nextHopProtocol: string }>
}

async function spkiHash(): Promise<string> {
  const { cert } = await testCertificate()
  const spki = createPublicKey(cert).export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(spki).digest('base64')
}

async function navigate(url: string): Promise<{ report: Report; stderr: string }> {
  const profile = await mkdtemp(join(tmpdir(), 'h2push-chromium-'))
  try {
    const { stdout, stderr } = await run(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        `--ignore-certificate-errors-spki-list=${await spkiHash()}`,
        '--virtual-time-budget=5000',
        '--dump-dom',
        url,
      ],
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
    )
    const json = /<pre id="report">(.*?)<\/pre>/s.exec(stdout)?.[1]
    if (!json) throw new Error(`no report in the page:\n${stdout.slice(0, 2000)}\n${stderr.slice(0, 2000)}`)
    return { report: JSON.parse(json.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as Report, stderr }
  } finally {
    await rm(profile, { recursive: true, force: true })
  }
}

for (const transport of TRANSPORTS) {
  describe(`headless Chromium (${transport})`, () => {
    let running: Running
    before(async () => {
      await run(CHROMIUM, ['--version']).catch((err: Error) => {
        throw new Error(`Chromium is needed for this test (apt-get install chromium, or set CHROMIUM): ${err.message}`)
      })
      const app = express()
      app.use(security())
      app.use(pushManifest({ manifest: { 'index.html': { '/css/app.css': { type: 'style' }, '/js/report.js': { type: 'script' } } }, root: SITE, watch: false }))
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
      const { report, stderr } = await navigate(`https://localhost:${running.port}/`)
      assert.equal(report.protocol, 'h2')
      const byPath = new Map(report.entries.map((e) => [e.path, e]))
      assert.equal(byPath.get('/css/app.css')?.initiatorType, 'early-hints', JSON.stringify(report.entries))
      assert.equal(byPath.get('/js/report.js')?.initiatorType, 'early-hints', JSON.stringify(report.entries))
      assert.doesNotMatch(stderr, /ERR_HTTP2_PROTOCOL_ERROR|ERR_SSL|ERR_CERT/)
    })
  })
}
