/**
 * The wire under a page load (bench/pageload.ts with CAPTURE=1): tcpdump on the lab's host side
 * while the counted rounds run, then, per connection to one of our servers, the burst of DATA
 * that carries the stylesheets, as the client's link sees it:
 *
 * - `reaction`: from the last request packet before the burst to its first segment, less the
 *   lab's one-way delay (the host's capture sees a client's packet as it reaches the server, and
 *   one of ours after the host side's delay), so the server's own time from the requests'
 *   arrival to its first response bytes;
 * - `transfer`: from the burst's first segment to its last (slow start's flights, and any time the
 *   server had nothing to send between them);
 * - `segments` and `partial`: how many segments carried it, and how many of them were not full
 *   (a write that ended mid-segment costs a packet of the congestion window).
 *
 * The burst is the longest run of our segments of 1 000 bytes or more with no gap over
 * `gapMs` between them: with early hints on, the hinted stylesheets' responses, sent while the
 * route thinks; off, the stylesheets requested after the page arrived.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

export interface Burst {
  /** The client's port: one per connection. */
  client: number
  reactionMs: number
  transferMs: number
  bytes: number
  segments: number
  partial: number
}

export interface Capture {
  file: string
  stop(): Promise<void>
}

/** Starts tcpdump on every interface for TCP to or from `clientIp`, the first 128 bytes of each packet, into `file`. */
export async function startCapture(file: string, clientIp: string): Promise<Capture> {
  const child: ChildProcess = spawn('tcpdump', ['-i', 'any', '-s', '128', '-U', '-w', file, `tcp and host ${clientIp}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  child.stderr!.on('data', (d: Buffer) => (err += d))
  // tcpdump says "listening on ..." once it captures.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err.trim()}`)), 5000)
    child.stderr!.on('data', () => {
      if (/listening on/.test(err)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`tcpdump exited (${code}): ${err.trim()}`))
    })
  })
  return {
    file,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGINT')
      }),
  }
}

interface Packet {
  ms: number
  out: boolean
  client: number
  length: number
}

/**
 * The packets of `tcpdump -nn -tt -r` lines between our server's `port` and its clients: `out` when ours
 * sent it. Lines of other ports, and lines tcpdump prints for other protocols, are skipped.
 */
export function parsePackets(text: string, port: number): Packet[] {
  const packets: Packet[] = []
  const line = /^(\d+\.\d+) .*?IP (\d+\.\d+\.\d+\.\d+)\.(\d+) > (\d+\.\d+\.\d+\.\d+)\.(\d+): .* length (\d+)/
  for (const l of text.split('\n')) {
    const m = line.exec(l)
    if (!m) continue
    const from = Number(m[3])
    const to = Number(m[5])
    if (from !== port && to !== port) continue
    packets.push({ ms: Number(m[1]) * 1000, out: from === port, client: from === port ? to : from, length: Number(m[6]) })
  }
  return packets
}

/** The stylesheets' burst of each connection in `packets` (see the top of this file); connections without one are left out. */
export function bursts(packets: readonly Packet[], oneWayMs: number, gapMs = 60): Burst[] {
  const byClient = new Map<number, Packet[]>()
  for (const p of packets) {
    if (p.length === 0) continue
    const list = byClient.get(p.client) ?? []
    list.push(p)
    byClient.set(p.client, list)
  }
  const found: Burst[] = []
  for (const [client, list] of byClient) {
    let best: Packet[] = []
    let run: Packet[] = []
    for (const p of list) {
      if (!p.out || p.length < 1000) continue
      if (run.length && p.ms - run[run.length - 1]!.ms > gapMs) run = []
      run.push(p)
      if (run.reduce((s, q) => s + q.length, 0) > best.reduce((s, q) => s + q.length, 0)) best = run
    }
    if (best.length < 2) continue
    const start = best[0]!.ms
    const request = list.filter((p) => !p.out && p.ms < start).at(-1)
    if (!request) continue
    // A segment of the captured size over the MSS is a GSO train of full segments: count them.
    const mss = 1448
    found.push({
      client,
      reactionMs: start - request.ms - oneWayMs,
      transferMs: best[best.length - 1]!.ms - start,
      bytes: best.reduce((s, q) => s + q.length, 0),
      segments: best.reduce((s, q) => s + Math.ceil(q.length / mss), 0),
      partial: best.filter((q) => q.length % mss !== 0).length,
    })
  }
  return found
}

/** `tcpdump -nn -tt -r file`'s text. */
export async function readCapture(file: string): Promise<string> {
  const { stdout } = await execFileP('tcpdump', ['-nn', '-tt', '-r', file], { maxBuffer: 256 * 1024 * 1024 })
  return stdout
}
