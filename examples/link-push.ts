/**
 * Push what the app names: a route's own `Link: rel=preload` header and its
 * `res.writeEarlyHints()` links are pushed to clients that accept push (an empty
 * manifest is enough), and are preloads and a 103 for browsers.
 *
 *   npm run build && node --import tsx examples/link-push.ts
 *   nghttp -nv https://localhost:8443/        (PUSH_PROMISE /app.css before the HEADERS)
 *   nghttp -nv https://localhost:8443/slow    (the push arrives during the 300 ms think time)
 */
import express from 'express'
import { createServer, pushManifest } from 'express-h2-push'

const css = 'body { font-family: system-ui, sans-serif }\n'
const app = express()
app.use(pushManifest({ manifest: {} }))

app.get('/app.css', (_req, res) => {
  res.set('cache-control', 'public, max-age=3600').type('css').send(css)
})

app.get('/', (_req, res) => {
  res.set('link', '</app.css>; rel=preload; as=style')
  res.type('html').send('<!doctype html><link rel="stylesheet" href="/app.css"><h1>Linked</h1>\n')
})

app.get('/slow', (_req, res) => {
  res.writeEarlyHints({ link: '</app.css>; rel=preload; as=style' })
  setTimeout(() => res.type('html').send('<!doctype html><link rel="stylesheet" href="/app.css"><h1>Thought</h1>\n'), 300)
})

const server = await createServer(app, { handleSignals: true })
server.listen(Number(process.env['PORT'] ?? 8443), process.env['HOST'] ?? 'localhost', () => {
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 8443
  console.log(`link-push listening on https://localhost:${port}`)
})
