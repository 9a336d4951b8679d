/** Runs nghttp (nghttp2-client) and parses its `-v` frame trace. */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface Frame {
  dir: 'send' | 'recv'
  type: string
  length: number
  flags: number
  streamId: number
  /** promised stream id of a PUSH_PROMISE */
  promisedId?: number
  /** error code of RST_STREAM / GOAWAY */
  errorCode?: string
  /** the header fields of a received HEADERS / PUSH_PROMISE frame */
  headers?: Record<string, string>
}

const FRAME = /^\[\s*[\d.]+\] (send|recv) (\w+) frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>/

export function parseTrace(text: string): Frame[] {
  const frames: Frame[] = []
  let last: Frame | undefined
  // nghttp prints a received header block's fields before the frame line.
  const pending = new Map<number, Record<string, string>>()
  for (const line of text.split('\n')) {
    const field = /^\[\s*[\d.]+\] recv \(stream_id=(\d+)\) (:?[^:]+): (.*)$/.exec(line)
    if (field) {
      const id = Number(field[1])
      const fields = pending.get(id) ?? {}
      fields[field[2]!] = field[3]!
      pending.set(id, fields)
      continue
    }
    const m = FRAME.exec(line)
    if (m) {
      last = { dir: m[1] as 'send' | 'recv', type: m[2]!, length: Number(m[3]), flags: parseInt(m[4]!, 16), streamId: Number(m[5]) }
      if (last.dir === 'recv' && (last.type === 'HEADERS' || last.type === 'PUSH_PROMISE')) {
        const fields = pending.get(last.streamId)
        if (fields) last.headers = fields
        pending.delete(last.streamId)
      }
      frames.push(last)
      continue
    }
    const promised = /promised_stream_id=(\d+)/.exec(line)
    if (promised && last?.type === 'PUSH_PROMISE') last.promisedId = Number(promised[1])
    const code = /error_code=(\w+)/.exec(line)
    if (code && last) last.errorCode = code[1]!
  }
  return frames
}

export const END_STREAM = 0x1

export async function nghttp(url: string, args: string[] = [], timeoutMs = 30_000): Promise<{ frames: Frame[]; stdout: string; stderr: string }> {
  const { stdout, stderr } = await run('nghttp', ['-nv', ...args, url], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })
  return { frames: parseTrace(stdout), stdout, stderr }
}

/** The client's first request stream in an nghttp trace (nghttp opens priority streams 3-11 first). */
export function requestStreamId(frames: Frame[]): number {
  const headers = frames.find((f) => f.dir === 'send' && f.type === 'HEADERS')
  if (!headers) throw new Error('no request HEADERS in trace')
  return headers.streamId
}

/**
 * The most pushed streams open at once in a trace: a pushed stream opens with its
 * response HEADERS and closes with END_STREAM or RST_STREAM (RFC 9113 §5.1; reserved
 * streams do not count towards SETTINGS_MAX_CONCURRENT_STREAMS).
 */
export function mostOpenPushedStreams(frames: Frame[]): number {
  const open = new Set<number>()
  let most = 0
  for (const f of frames) {
    if (f.dir !== 'recv' || f.streamId === 0 || f.streamId % 2 !== 0) continue
    if (f.type === 'HEADERS') open.add(f.streamId)
    if (f.type === 'RST_STREAM' || ((f.type === 'DATA' || f.type === 'HEADERS') && (f.flags & END_STREAM) !== 0)) {
      most = Math.max(most, open.size)
      open.delete(f.streamId)
    }
    most = Math.max(most, open.size)
  }
  return most
}
