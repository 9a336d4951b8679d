/**
 * A development certificate for localhost, 127.0.0.1 and ::1, made with `selfsigned`
 * on first use and kept (git-ignored) for later runs. Never used in production.
 */
import { X509Certificate } from 'node:crypto'
import { mkdir, readFile, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import selfsigned from 'selfsigned'

export interface TlsPair {
  key: string
  cert: string
}

export const DEV_CERT_DIR = '.cert'
const KEY_FILE = 'localhost-key.pem'
const CERT_FILE = 'localhost-cert.pem'
/** Regenerate when fewer days than this are left. */
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000

/** Generates a fresh self-signed certificate for localhost (EC P-256, SHA-256, SANs for local names). */
export async function generateLocalhostCertificate(days = 365): Promise<TlsPair> {
  const notBeforeDate = new Date(Date.now() - 60_000)
  const notAfterDate = new Date(notBeforeDate.getTime() + days * 24 * 3600 * 1000)
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  })
  return { key: pems.private, cert: pems.cert }
}

function stillValid(certPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem)
    return Date.parse(cert.validTo) - Date.now() > RENEW_BEFORE_MS && cert.checkHost('localhost') !== undefined
  } catch {
    return false
  }
}

/**
 * Returns the development certificate kept in `<dir>/.cert/`, generating it (key file
 * mode 0600) when it is missing, unreadable or about to expire.
 */
export async function loadDevCertificate(dir = process.cwd()): Promise<TlsPair & { generated: boolean; path: string }> {
  const folder = join(dir, DEV_CERT_DIR)
  const keyPath = join(folder, KEY_FILE)
  const certPath = join(folder, CERT_FILE)
  try {
    const [key, cert] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')])
    if (stillValid(cert)) return { key, cert, generated: false, path: certPath }
  } catch {
    // missing: generate below
  }
  const pair = await generateLocalhostCertificate()
  await mkdir(folder, { recursive: true, mode: 0o700 })
  await writeFile(keyPath, pair.key, { mode: 0o600 })
  await chmod(keyPath, 0o600)
  await writeFile(certPath, pair.cert, { mode: 0o644 })
  return { ...pair, generated: true, path: certPath }
}
