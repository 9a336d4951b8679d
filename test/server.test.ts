/**
 * createServer: options, TLS material, development certificate, HTTP/1.1, shutdown.
 */
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import https from 'node:https'
import { mkdtemp, readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import express from 'express'
import { createServer, loadDevCertificate, resolveTls, type H2PushError } from '../index.js'
import { H2Client, h2get } from './helpers/h2.js'
import { TRANSPORTS } from './helpers/server.js'
import { spawnDemo, startDemo } from './helpers/demo.js'
import { settles } from './helpers/wait.js'

function withEnv<T>(env: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  return fn().finally(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
}

function http1Get(url: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string; alpn: string | false | null }> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${url}${path}`, { rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], agent: false } as https.RequestOptions, (res) => {
      const alpn = (res.socket as import('node:tls').TLSSocket).alpnProtocol
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, alpn }))
    })
    req.on('error', reject)
  })
}

describe('createServer options', () => {
  test('an unknown option is rejected with a "did you mean" hint', async () => {
    await assert.rejects(createServer(express(), { shutdownTimout: 10 } as never), (err: H2PushError) => {
      assert.equal(err.code, 'ERR_H2PUSH_INVALID_OPTION')
      assert.match(err.message, /unknown option "shutdownTimout"\. Did you mean `shutdownTimeout`\?/)
      return true
    })
  })

  test('a wrongly typed option names the option and the value', async () => {
    await assert.rejects(createServer(express(), { transport: 'quic' as never }), (err: H2PushError) => {
      assert.equal(err.code, 'ERR_H2PUSH_INVALID_OPTION')
      assert.match(err.message, /option `transport` must be one of "spdy", "http2", got "quic"/)
      return true
    })
  })

  test('a missing app is reported, not deferred to the first request', async () => {
    await assert.rejects(createServer(undefined as never), { code: 'ERR_H2PUSH_INVALID_OPTION' })
  })

  test('the options object is not modified', async () => {
    const options = Object.freeze({ shutdownTimeout: 100, certDir: await mkdtemp(join(tmpdir(), 'h2push-')) })
    const server = await createServer(express(), options)
    assert.deepEqual(Object.keys(options), ['shutdownTimeout', 'certDir'])
    await server.shutdown()
  })
})

describe('TLS material', () => {
  test('production without a certificate: a clear error naming TLS_CERT/TLS_KEY and the options', async () => {
    await withEnv({ NODE_ENV: 'production', TLS_CERT: undefined, TLS_KEY: undefined }, async () => {
      await assert.rejects(resolveTls(), (err: H2PushError) => {
        assert.equal(err.code, 'ERR_H2PUSH_TLS_MISSING')
        assert.match(err.message, /Set TLS_CERT and TLS_KEY/)
        assert.match(err.message, /\{ key, cert \}/)
        return true
      })
    })
  })

  test('only one of TLS_CERT/TLS_KEY is an error', async () => {
    await withEnv({ TLS_CERT: '/nonexistent.pem', TLS_KEY: undefined }, async () => {
      await assert.rejects(resolveTls(), /TLS_KEY and TLS_CERT go together \(got only TLS_CERT\)/)
    })
  })

  test('development certificate: made for localhost/127.0.0.1/::1, key mode 0600, reused on the next run', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'h2push-'))
    const first = await loadDevCertificate(dir)
    assert.equal(first.generated, true)
    const cert = new X509Certificate(first.cert)
    assert.equal(cert.checkHost('localhost'), 'localhost')
    assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1')
    assert.equal(cert.checkIP('::1'), '::1')
    const keyStat = await stat(join(dir, '.cert', 'localhost-key.pem'))
    assert.equal(keyStat.mode & 0o777, 0o600)
    const second = await loadDevCertificate(dir)
    assert.equal(second.generated, false)
    assert.equal(second.cert, first.cert)
    assert.equal(await readFile(join(dir, '.cert', 'localhost-key.pem'), 'utf8'), first.key)
  })
})

for (const transport of TRANSPORTS)
  describe(`HTTP/1.1 clients and shutdown (${transport})`, () => {
    test('an HTTP/1.1 client (ALPN http/1.1) gets /crt, and /push answers with the Link header', async () => {
      const demo = await startDemo({}, { transport })
      try {
        const crt = await http1Get(demo.url, '/crt')
        assert.equal(crt.alpn, 'http/1.1')
        assert.equal(crt.status, 200)
        assert.equal(crt.body, demo.certificate)
        assert.ok(crt.headers['strict-transport-security'])
        const push = await http1Get(demo.url, '/push')
        assert.equal(push.status, 200)
        assert.match(String(push.headers['link']), /^<\/crt>; rel=preload/)
      } finally {
        await demo.close()
      }
    })

    test('shutdown(): GOAWAY, held streams ended (not reset), timers cleared, resolves well within the timeout', async () => {
      const demo = await startDemo({ autoPushIntervalMs: 50 }, { transport })
      const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
      const client = new H2Client(demo.url)
      let goaway = false
      client.session.on('goaway', () => (goaway = true))
      const held = client.open('/header')
      const auto = client.open('/autoPush')
      await Promise.all([held.response, auto.response])
      await sleep(120)
      const start = Date.now()
      await demo.close()
      const took = Date.now() - start
      await Promise.all([held.closed, auto.closed])
      assert.ok(goaway, 'no GOAWAY')
      assert.equal(held.ended, true)
      assert.equal(auto.ended, true)
      assert.ok(took < 2000, `shutdown took ${took} ms`)
      assert.ok(demo.server.shutdownSignal.aborted)
      await client.close()
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
      await settles(() => timers() <= timersBefore, `timers released (left: ${timers()} > ${timersBefore})`)
    })
  })

describe('the demo server', () => {
  test('TRANSPORT=http2: logs its transport, serves and pushes, exits 0 on SIGTERM', async () => {
    const demo = await spawnDemo({ TRANSPORT: 'http2' })
    try {
      assert.match(demo.stdout(), /\(transport: http2\)/)
      const res = await h2get(demo.url, '/push')
      assert.equal(res.status, 200)
      assert.deepEqual(
        res.pushes.map((p) => p.path),
        ['/crt'],
      )
    } finally {
      const { code } = await demo.stop('SIGTERM')
      assert.equal(code, 0)
    }
  })

  test('a bad TRANSPORT or PORT is one clear line and exit 1', async () => {
    for (const env of [{ TRANSPORT: 'quic' }, { PORT: 'eighty' }]) {
      await assert.rejects(spawnDemo(env), /exited with 1: .*(TRANSPORT="quic" is not "spdy" or "http2"|PORT="eighty" is not an integer)/s)
    }
  })
})
