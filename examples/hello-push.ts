/**
 * The smallest app that pushes: GET / pushes /style.css to clients that accept
 * push, and sends `Link: rel=preload` to those that do not (browsers, curl).
 *
 *   npm run build && node --import tsx examples/hello-push.ts
 *   nghttp -nv https://localhost:8443/
 */
import express from 'express'
import { createServer, getPusher } from 'express-h2-push'

const css = 'body { font-family: system-ui, sans-serif }\n'
const app = express()

app.get('/style.css', (_req, res) => {
  res.type('css').send(css)
})

app.get('/', async (_req, res) => {
  const pusher = getPusher(res)
  if (pusher) {
    // Resolves once the PUSH_PROMISE is queued: the page's HEADERS follow it.
    const stream = await pusher.push('/style.css')
    void stream.respond(200, { 'content-type': 'text/css; charset=utf-8' }, css)
  } else {
    res.setHeader('link', '</style.css>; rel=preload; as=style')
  }
  res.type('html').send('<!doctype html><link rel="stylesheet" href="/style.css"><h1>Hello, push</h1>\n')
})

const server = await createServer(app, { handleSignals: true })
server.listen(Number(process.env['PORT'] ?? 8443), process.env['HOST'] ?? 'localhost', () => {
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 8443
  console.log(`hello-push listening on https://localhost:${port}`)
})
