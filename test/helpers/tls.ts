/** One localhost certificate per test process (made at test time, never committed). */
import { generateLocalhostCertificate } from '../../index.js'

let pair: Promise<{ key: string; cert: string }> | undefined

export function testCertificate(): Promise<{ key: string; cert: string }> {
  pair ??= generateLocalhostCertificate(2)
  return pair
}
