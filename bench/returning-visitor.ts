/**
 * Bytes pushed to a first-time and to a returning visitor (with the digest cookie),
 * with the cache digest on (default) and off, for a page with 10 assets of 4 KB (all fit in the client's 64 KB window).
 *   npm run bench:returning
 */
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import express from 'express'
import { pushManifest, type PushManifest } from '../index.js'
import { h2get } from '../test/helpers/h2.js'
import { summaryRow, writeResults, type SummaryRow } from './harness.js'
import { startServer } from '../test/helpers/server.js'

const ASSETS = 10
const SIZE = 4 * 1024
const site = await mkdtemp(join(tmpdir(), 'h2push-bench-'))
await mkdir(join(site, 'assets'))
const entries: PushManifest[string] = {}
for (let i = 0; i < ASSETS; i++) {
  await writeFile(join(site, 'assets', `a${i}.js`), Buffer.alloc(SIZE, 97 + i))
  entries[`/assets/a${i}.js`] = { type: 'script' }
}

console.log(`\nBytes pushed for a page with ${ASSETS} assets of ${SIZE} bytes (Node ${process.version})\n`)
console.log('| cacheDigest | first visit | returning visitor (new connection, cookie) | cookie value |')
console.log('|---|---|---|---|')
const summary: SummaryRow[] = []
const results: Record<string, { first: number; returning: number }> = {}
for (const cacheDigest of [true, false]) {
  const app = express()
  app.use(pushManifest({ manifest: { '/': entries }, root: site, watch: false, cacheDigest, maxPushBytes: 1 << 20 }))
  app.get('/', (_req, res) => {
    res.send('page')
  })
  const running = await startServer(app)
  const bytes = (r: Awaited<ReturnType<typeof h2get>>) => r.pushes.reduce((n, p) => n + p.body.length, 0)
  const first = await h2get(running.url, '/')
  const cookie = (first.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!).find((c) => c.startsWith('h2push='))
  const again = await h2get(running.url, '/', cookie ? { headers: { cookie } } : {})
  console.log(`| ${cacheDigest} | ${bytes(first)} | ${bytes(again)} | ${cookie ? cookie.length - 'h2push='.length + ' bytes' : '–'} |`)
  results[`cacheDigest ${cacheDigest}`] = { first: bytes(first), returning: bytes(again) }
  // With the digest, nothing the visitor has is pushed again; without it, everything is.
  summary.push(
    summaryRow(`returning visitor: bytes pushed again / first visit, cacheDigest ${cacheDigest}`, bytes(again) / bytes(first), cacheDigest ? '<= 0' : ''),
  )
  await running.close()
}
await writeResults('returning-visitor', { assets: ASSETS, size: SIZE, results }, summary)
