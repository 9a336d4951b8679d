/**
 * The examples run as a user runs them (importing the built package by name).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { h2get } from './helpers/h2.js'
import { ROOT } from './helpers/server.js'
import { testCertificate } from './helpers/tls.js'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'

test('examples/hello-push.ts pushes /style.css to a push client and preloads it for others', async () => {
  const tls = await testCertificate()
  const dir = await mkdtemp(join(tmpdir(), 'h2push-example-'))
  await writeFile(join(dir, 'key.pem'), tls.key, { mode: 0o600 })
  await writeFile(join(dir, 'cert.pem'), tls.cert)
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/hello-push.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', TLS_KEY: join(dir, 'key.pem'), TLS_CERT: join(dir, 'cert.pem') },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  try {
    const port = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d
        const m = /https:\/\/localhost:(\d+)/.exec(out)
        if (m) resolve(m[1]!)
      })
      child.once('exit', (code) => reject(new Error(`example exited ${code}: ${out}${err}`)))
    })
    const url = `https://127.0.0.1:${port}`
    const pushed = await h2get(url, '/')
    assert.equal(pushed.status, 200)
    assert.equal(pushed.pushes.length, 1)
    assert.equal(pushed.pushes[0]!.path, '/style.css')
    assert.equal(pushed.pushes[0]!.body.toString(), 'body { font-family: system-ui, sans-serif }\n')
    const hinted = await h2get(url, '/', { enablePush: false })
    assert.equal(hinted.pushes.length, 0)
    assert.equal(hinted.headers['link'], '</style.css>; rel=preload; as=style')
  } finally {
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    assert.equal(code, 0, `example did not exit cleanly: ${err}`)
  }
})
