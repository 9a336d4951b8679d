/**
 * The demo app (routes/) as a server: in-process through createServer, or as users run it
 * (`routes/server.ts` through tsx). Only the tests of the demo itself, and those that use
 * its held-open and push routes, start it; the package's own tests use ./server.ts.
 */
import type { CreateServerOptions } from '../../index.js'
import { createDemoApp, type DemoAppOptions } from '../../routes/index.js'
import { spawnServer, startServer, type ChildServer, type Running } from './server.js'
import { testCertificate } from './tls.js'

export async function startDemo(demo: Partial<DemoAppOptions> = {}, options: CreateServerOptions = {}): Promise<Running & { certificate: string }> {
  const tls = await testCertificate()
  const app = createDemoApp({ certificate: tls.cert, logRequests: false, ...demo })
  return { ...(await startServer(app, options)), certificate: tls.cert }
}

/** The demo server as users run it (`routes/server.ts` through tsx), stdout and stderr piped. */
export function spawnDemo(env: Record<string, string> = {}): Promise<ChildServer> {
  return spawnServer('routes/server.ts', /listening on (https:\/\/\S+)/, env)
}
