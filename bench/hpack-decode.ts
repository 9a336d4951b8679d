/**
 * Request header blocks decoded by this package's decoder (src/compat/spdy/hpack-decode.ts) against
 * hpack.js's Decompressor, as spdy-transport's parser drove it: a browser's requests on one connection
 * (the page, 10 stylesheets, the favicon, with Chromium's request headers), encoded by hpack.js's
 * Compressor, so the first block is literals (Huffman-coded) and the later ones mostly indexes.
 *
 *   npm run bench:hpack-decode
 *
 * Cold: a fresh process per round and per decoder decodes CONNECTIONS connections' blocks, each on a
 * new table, as a young server meets its first page loads; the median time per connection over
 * connections 2..CONNECTIONS (the first one compiles the code). Warm: WARM connections in one process
 * after as many unmeasured; time per block. Environment: ROUNDS (default 7), CONNECTIONS (12), WARM (20 000).
 * Writes bench/results/hpack-decode.json.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { HpackBlockDecoder, type HpackDecodeTable } from '../src/compat/spdy/hpack-decode.js'
import { loadSpdy } from '../src/compat/spdy/load.js'
import { median, summaryRow, writeResults } from './harness.js'

const run = promisify(execFile)
const ROUNDS = Number(process.env['ROUNDS'] ?? 7)
const CONNECTIONS = Number(process.env['CONNECTIONS'] ?? 12)
const WARM = Number(process.env['WARM'] ?? 20_000)
const DECODERS = ['hpack.js', 'ours'] as const
type Decoder = (typeof DECODERS)[number]

interface Decompressor {
  _table: HpackDecodeTable
  _decoder: { push(chunk: Buffer): void; isEmpty(): boolean }
  _execute(): void
  push(field: unknown): boolean
}
interface Hpack {
  compressor: { create(options: object): { write(headers: object[]): void; read(): Buffer | null } }
  decompressor: { create(options: object): Decompressor }
  huffman: { encode: [number, number][] }
}

/** hpack.js as spdy-transport resolves it. */
function hpackJs(): Hpack {
  return loadSpdy().hpack as unknown as Hpack
}

/** One connection's request header blocks, as Chromium sends them for a page and its 11 subresources, and their number of fields. */
function connectionBlocks(hpack: Hpack): { blocks: Buffer[]; fields: number } {
  const compressor = hpack.compressor.create({ table: { maxSize: 4096 } })
  const common: [string, string][] = [
    ['sec-ch-ua', '"Chromium";v="130", "Not?A_Brand";v="99"'],
    ['sec-ch-ua-mobile', '?0'],
    ['sec-ch-ua-platform', '"Linux"'],
    ['user-agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0.0.0 Safari/537.36'],
    ['accept-encoding', 'gzip, deflate, br, zstd'],
    ['accept-language', 'en-US,en;q=0.9'],
  ]
  const request = (path: string, accept: string, dest: string): [string, string][] => [
    [':method', 'GET'],
    [':authority', '10.200.0.1:8443'],
    [':scheme', 'https'],
    [':path', path],
    ...common,
    ['accept', accept],
    ['sec-fetch-site', path === '/' ? 'none' : 'same-origin'],
    ['sec-fetch-mode', path === '/' ? 'navigate' : 'no-cors'],
    ['sec-fetch-dest', dest],
    ...(path === '/' ? [] : ([['referer', 'https://10.200.0.1:8443/']] as [string, string][])),
    ['priority', path === '/' ? 'u=0, i' : 'u=0'],
  ]
  const requests = [
    request('/', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8', 'document'),
    ...Array.from({ length: 10 }, (_, i) => request(`/css/${i}.css`, 'text/css,*/*;q=0.1', 'style')),
    request('/favicon.ico', 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'image'),
  ]
  const blocks = requests.map((fields) => {
    compressor.write(fields.map(([name, value]) => ({ name, value })))
    const chunks: Buffer[] = []
    for (let chunk = compressor.read(); chunk; chunk = compressor.read()) chunks.push(chunk)
    return Buffer.concat(chunks)
  })
  return { blocks, fields: requests.reduce((n, fields) => n + fields.length, 0) }
}

/** Decodes one connection's blocks on a new table with `decoder`; the number of fields, so nothing is optimized away. */
function decoderOf(which: Decoder, hpack: Hpack): (blocks: readonly Buffer[]) => number {
  if (which === 'ours') {
    const decoder = new HpackBlockDecoder(hpack.huffman.encode)
    return (blocks) => {
      const table = hpack.decompressor.create({ table: { maxSize: 4096 } })._table
      let fields = 0
      for (const block of blocks) fields += decoder.decode(table, block, 65536).length
      return fields
    }
  }
  // spdy-transport's path before: the Decompressor's own decoder, its `push` taking each field.
  return (blocks) => {
    const decompressor = hpack.decompressor.create({ table: { maxSize: 4096 } })
    let fields = 0
    decompressor.push = () => {
      fields++
      return true
    }
    for (const block of blocks) {
      decompressor._decoder.push(block)
      while (!decompressor._decoder.isEmpty()) decompressor._execute()
    }
    return fields
  }
}

/** In a child: µs per connection for connections 1..CONNECTIONS (cold), then ns per block over WARM connections (warm). */
function child(which: Decoder): void {
  const hpack = hpackJs()
  const { blocks, fields } = connectionBlocks(hpack)
  const decode = decoderOf(which, hpack)
  const cold: number[] = []
  for (let i = 0; i < CONNECTIONS; i++) {
    const start = process.hrtime.bigint()
    if (decode(blocks) !== fields) throw new Error(`${which}: not the ${fields} fields encoded`)
    cold.push(Number(process.hrtime.bigint() - start) / 1000)
  }
  let warm = Number.NaN
  if (process.argv[4] === 'warm') {
    for (let i = 0; i < WARM; i++) decode(blocks)
    const start = process.hrtime.bigint()
    for (let i = 0; i < WARM; i++) decode(blocks)
    warm = Number(process.hrtime.bigint() - start) / (WARM * blocks.length)
  }
  process.stdout.write(JSON.stringify({ cold, warm }))
}

if (process.argv[2] === '--child') {
  child(process.argv[3] as Decoder)
} else {
  const self = fileURLToPath(import.meta.url)
  const cold: Record<Decoder, number[]> = { 'hpack.js': [], ours: [] }
  const warm: Record<Decoder, number[]> = { 'hpack.js': [], ours: [] }
  for (let round = 0; round < ROUNDS; round++) {
    // Alternating, so that the machine's load falls on both alike.
    for (const which of round % 2 === 0 ? DECODERS : [...DECODERS].reverse()) {
      const { stdout } = await run(process.execPath, [self, '--child', which, round < 3 ? 'warm' : 'cold'])
      const result = JSON.parse(stdout) as { cold: number[]; warm: number }
      cold[which].push(median(result.cold.slice(1)))
      if (Number.isFinite(result.warm)) warm[which].push(result.warm)
    }
  }
  const m = (values: number[]): number => median(values)
  const { blocks } = connectionBlocks(hpackJs())
  console.log(
    `\nRequest header blocks decoded (a page, 10 stylesheets, the favicon on one connection: ${blocks.length} blocks, ` +
      `${blocks.reduce((n, b) => n + b.length, 0)} bytes), ${ROUNDS} fresh processes per decoder, Node ${process.version}\n`,
  )
  console.log('| | hpack.js (spdy-transport before) | ours (hpack-decode.ts) | ours / hpack.js |')
  console.log('|---|---|---|---|')
  console.log(
    `| cold: µs per connection, connections 2..${CONNECTIONS} of a fresh process | ${m(cold['hpack.js']).toFixed(1)} | ${m(cold.ours).toFixed(1)} | ${(m(cold.ours) / m(cold['hpack.js'])).toFixed(2)}× |`,
  )
  console.log(`| warm: ns per block | ${m(warm['hpack.js']).toFixed(0)} | ${m(warm.ours).toFixed(0)} | ${(m(warm.ours) / m(warm['hpack.js'])).toFixed(2)}× |`)
  await writeResults('hpack-decode', { rounds: ROUNDS, connections: CONNECTIONS, cold, warm }, [
    summaryRow('hpack-decode: request header blocks, cold connection, ours / hpack.js (time)', m(cold.ours) / m(cold['hpack.js'])),
    summaryRow('hpack-decode: request header blocks, warm, ours / hpack.js (time)', m(warm.ours) / m(warm['hpack.js'])),
  ])
}
