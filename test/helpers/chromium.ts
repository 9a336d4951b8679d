/**
 * Headless Chromium (Debian's `chromium`, or CHROMIUM) loading one page and reporting the
 * page's resource timing, read from the DOM (`--dump-dom`) where the fixture's
 * `js/report.js` writes it. The test certificate is trusted by its SPKI hash: under
 * --ignore-certificate-errors Chromium ignores 103 Early Hints.
 */
import { execFile } from 'node:child_process'
import { createHash, createPublicKey } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { testCertificate } from './tls.js'

const run = promisify(execFile)
export const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium'

/** Headless, no sandbox (root), and no background traffic to a network this machine does not reach. */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export interface PageReport {
  protocol: string
  entries: Array<{ path: string; initiatorType: string; nextHopProtocol: string }>
}

/** Throws a message saying how to get Chromium when it is missing. */
export async function requireChromium(): Promise<void> {
  await run(CHROMIUM, ['--version']).catch((err: Error) => {
    throw new Error(`Chromium is needed for this test (apt-get install chromium, or set CHROMIUM): ${err.message}`)
  })
}

async function spkiHash(): Promise<string> {
  const { cert } = await testCertificate()
  const spki = createPublicKey(cert).export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(spki).digest('base64')
}

/** A cold load (fresh profile) of `url`; resolves with the page's report and Chromium's stderr. */
export async function loadPage(url: string): Promise<{ report: PageReport; stderr: string }> {
  const profile = await mkdtemp(join(tmpdir(), 'h2push-chromium-'))
  try {
    const { stdout, stderr } = await run(
      CHROMIUM,
      [
        ...CHROMIUM_FLAGS,
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
    return { report: JSON.parse(json.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as PageReport, stderr }
  } finally {
    await rm(profile, { recursive: true, force: true })
  }
}
