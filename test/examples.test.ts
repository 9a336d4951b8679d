/**
 * The examples run as a user runs them (importing the built package by name).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { h2get } from './helpers/h2.js'
import { spawnServer } from './helpers/server.js'

test('examples/hello-push.ts pushes /style.css to a push client and preloads it for others', async () => {
  const example = await spawnServer('examples/hello-push.ts', /https:\/\/localhost:(\d+)/)
  try {
    const url = `https://127.0.0.1:${example.url}`
    const pushed = await h2get(url, '/')
    assert.equal(pushed.status, 200)
    assert.equal(pushed.pushes.length, 1)
    assert.equal(pushed.pushes[0]!.path, '/style.css')
    assert.equal(pushed.pushes[0]!.body.toString(), 'body { font-family: system-ui, sans-serif }\n')
    const hinted = await h2get(url, '/', { enablePush: false })
    assert.equal(hinted.pushes.length, 0)
    assert.equal(hinted.headers['link'], '</style.css>; rel=preload; as=style')
  } finally {
    const { code } = await example.stop('SIGTERM')
    assert.equal(code, 0, `example did not exit cleanly: ${example.stderr()}`)
  }
})

test('examples/link-push.ts pushes what its routes link and hint, on both routes', async () => {
  const example = await spawnServer('examples/link-push.ts', /https:\/\/localhost:(\d+)/)
  try {
    const url = `https://127.0.0.1:${example.url}`
    for (const path of ['/', '/slow']) {
      const res = await h2get(url, path)
      assert.equal(res.status, 200, path)
      assert.deepEqual(
        res.pushes.map((p) => [p.path, p.body.toString()]),
        [['/app.css', 'body { font-family: system-ui, sans-serif }\n']],
        path,
      )
    }
    const hinted = await h2get(url, '/slow', { enablePush: false })
    assert.equal(hinted.pushes.length, 0)
    assert.equal(hinted.informational[0]?.['link'], '</app.css>; rel=preload; as=style')
  } finally {
    const { code } = await example.stop('SIGTERM')
    assert.equal(code, 0, `example did not exit cleanly: ${example.stderr()}`)
  }
})
