/**
 * The package as a stranger gets it: `npm pack`, installed into an empty app beside
 * express, used from ESM `import` and from CommonJS `require` (Node 20.19+ and 22.12+
 * load ES modules from require()); the tarball holds the library and the CLI, not the demo.
 * Needs the npm registry for the package's dependencies.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './helpers/server.js'

const run = promisify(execFile)
let app: string
let files: string[]
let installLog: string

before(async () => {
  app = await mkdtemp(join(tmpdir(), 'h2push-package-'))
  // --ignore-scripts: the build is npm test's first step; pack what dist/ holds.
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', app], { cwd: ROOT, maxBuffer: 16 << 20 })
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  files = packed!.files.map((f) => f.path)
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'stranger-app', private: true }))
  const installed = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(app, packed!.filename), 'express@5'], {
    cwd: app,
    timeout: 240_000,
    maxBuffer: 16 << 20,
  })
  installLog = installed.stdout + installed.stderr
})

after(async () => {
  await rm(app, { recursive: true, force: true })
})

test('the tarball ships the library, the middleware and the CLI, not the demo', () => {
  assert.ok(files.includes('dist/index.js'))
  assert.ok(files.includes('dist/src/index.js'))
  assert.ok(files.includes('dist/middleware/push-manifest.js'))
  assert.ok(files.includes('dist/bin/express-h2-push.js'))
  assert.ok(files.includes('push-manifest.schema.json'))
  assert.deepEqual(
    files.filter((f) => /(^|\/)(routes|security)[./]/.test(f)),
    [],
  )
})

test('installs without an engine warning on this Node (no dependency asks for a newer one than `engines` says)', () => {
  assert.doesNotMatch(installLog, /EBADENGINE/, installLog)
})

test('package.json names the repository, homepage and issue tracker (the registry page links through them)', async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>
  assert.match(String((pkg['repository'] as { url?: string } | undefined)?.url), /^git\+https:\/\/github\.com\/express-h2-push\/express-h2-push\.git$/)
  assert.match(String(pkg['homepage']), /^https:\/\/github\.com\/express-h2-push\/express-h2-push/)
  assert.match(String((pkg['bugs'] as { url?: string } | undefined)?.url), /\/issues$/)
})

const USE = `
  const app = EXPRESS()
  app.use(h2push.pushManifest({ manifest: { '/': { '/a.css': { type: 'style' } } }, watch: false }))
  if (typeof h2push.getPusher !== 'function' || typeof h2push.createServer !== 'function') throw new Error('API missing')
  console.log('ok', Object.keys(h2push).length)
`

test('import from an ES module', async () => {
  const code = `import * as h2push from 'express-h2-push'\nimport express from 'express'\n${USE.replace('EXPRESS', 'express')}`
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: app })
  assert.match(stdout, /^ok \d+/)
})

test('require() from CommonJS', async () => {
  const code = `const h2push = require('express-h2-push')\n${USE.replace('EXPRESS', "require('express')")}`
  const { stdout, stderr } = await run(process.execPath, ['--no-warnings', '-e', code], { cwd: app })
  assert.match(stdout, /^ok \d+/, stderr)
})

test('the CLI runs from node_modules/.bin', async () => {
  const { stdout } = await run(join(app, 'node_modules/.bin/express-h2-push'), ['--help'], { cwd: app }).catch((err: { stdout: string }) => ({
    stdout: err.stdout,
  }))
  assert.match(stdout, /inspect/)
})
