/**
 * The HTTP/2 attack families (issue 22, section 2), on each transport: one hostile connection per
 * family against the demo in a child process (so that its RSS is its own; a fresh one after a family it did not hold).
 * Each test asserts that the server
 *   - ends the attacker's connection (GOAWAY, or closes or resets it) within MAX_FRAMES frames and
 *     ATTACK_SECONDS seconds,
 *   - keeps its RSS bounded: peak − before < RSS_BOUND_MB (sampled every 200 ms),
 *   - serves a second, well-behaved node:http2 client (GET /crt every 250 ms) within WAIT_BOUND_MS meanwhile.
 * The measurements are printed as diagnostics. `bench/attacks.ts` prints them as a table.
 *
 * Expected to fail until the limits of issue 22 land (measured before them, Node 20, 2 cores):
 *   spdy:  rapid-reset (never ended, the other client waited ~4 s), ping-flood, settings-flood,
 *          reset-provoking, empty-data, empty-continuation, priority-flood, window-dribble
 *          (none of them ended).
 *   http2: hpack-bomb (nghttp2 resets every bomb request, ENHANCE_YOUR_CALM, but keeps the
 *          connection), priority-flood and window-dribble (Node has no limit for either);
 *          rapid-reset ends (nghttp2's reset rate limit, GOAWAY after 1.7-2.9 s) but ~1 200 requests
 *          reach Express first and the other client waited 1.7-2.7 s on this 2-core machine.
 * The families every transport ends today: continuation-flood, 100k-headers, 1mb-cookie; and on
 * node:http2 also ping-flood, settings-flood, reset-provoking, empty-data, empty-continuation.
 *
 * Knobs: FAULT_SCALE (`npm run soak`: 10) attacks each server that many times in a row, each on a new
 * connection, with the RSS bound held across all of them; ATTACK_SECONDS (default 2.5) and
 * ATTACK_FAMILIES (comma-separated names) narrow a run.
 */
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { FAMILIES, measure, spawnAttackedDemo, summary, type Measured } from './helpers/attack.js'
import { H2Client } from './helpers/h2.js'
import { TRANSPORTS, type ChildServer } from './helpers/server.js'
import { SCALE } from './helpers/faults.js'

/** The attacker's frame budget: a connection still open after this many frames was not ended. */
const MAX_FRAMES = 200_000
const ATTACK_SECONDS = Number(process.env['ATTACK_SECONDS'] ?? 2.5)
const RSS_BOUND_MB = 100
const WAIT_BOUND_MS = 1000
const only = process.env['ATTACK_FAMILIES']?.split(',')
/**
 * The attacked demo's young generation is capped at 16 MB per semi-space, so that its RSS measures what
 * the server keeps, not the room V8 gives its scavenger. On Node 24, under window dribble's tiny DATA
 * frames, V8 sometimes grows spdy's young generation to its maximum: RSS then jumps by about 95–112 MB
 * within the attack and stays there (in 4 runs of this file of 11, and 1 of 7 on an earlier commit;
 * capped at 8 MB, none in 4, +22–24 MB; at 16 MB, none in 2, +1–3 MB). That is a bounded cost of
 * spdy's allocation rate, not memory the attack makes the server keep; `npm run bench:attacks` runs
 * the demo with V8's defaults and shows it.
 */
const V8_YOUNG_GENERATION = { NODE_OPTIONS: '--max-semi-space-size=16' }

/** What is wrong with one measurement (empty: the server held). */
function problems(m: Measured, rssBeforeMB: number): string[] {
  const found: string[] = []
  if (!m.ended) found.push(`the connection was not ended within ${MAX_FRAMES} frames and ${ATTACK_SECONDS} s`)
  if (m.frames > MAX_FRAMES) found.push(`${m.frames} frames before it ended`)
  const grown = m.rssPeakMB - rssBeforeMB
  if (grown >= RSS_BOUND_MB) found.push(`RSS grew ${grown.toFixed(1)} MB (bound ${RSS_BOUND_MB} MB)`)
  if (m.worstWaitMs >= WAIT_BOUND_MS) found.push(`the other client waited ${m.worstWaitMs} ms (bound ${WAIT_BOUND_MS} ms)`)
  if (m.failed > 0) found.push(`${m.failed} of the other client's requests failed`)
  return found
}

for (const transport of TRANSPORTS) {
  describe(`HTTP/2 attack families (${transport})`, () => {
    // One demo for the families a server holds; a family it did not hold may leave it busy or
    // bloated, so the next family gets a fresh one.
    let demo: ChildServer | undefined
    after(async () => {
      await demo?.stop('SIGKILL')
    })

    for (const fam of FAMILIES) {
      if (only && !only.includes(fam.name)) continue
      test(`${fam.name} (${fam.cve}): the connection ends within ${MAX_FRAMES} frames and ${ATTACK_SECONDS} s, RSS +< ${RSS_BOUND_MB} MB, another client served within ${WAIT_BOUND_MS} ms`, {
        timeout: 30_000 + SCALE * (ATTACK_SECONDS + 5) * 1000,
      }, async (t) => {
        demo ??= await spawnAttackedDemo(transport, V8_YOUNG_GENERATION)
        try {
          let rssBeforeMB: number | undefined
          for (let round = 0; round < SCALE; round++) {
            const m = await measure(
              demo,
              fam,
              transport,
              { maxFrames: MAX_FRAMES, maxSeconds: ATTACK_SECONDS },
              { settleMs: 200, minProbeMs: 500, probeGraceMs: WAIT_BOUND_MS },
            )
            rssBeforeMB ??= m.rssBeforeMB
            t.diagnostic(`${SCALE > 1 ? `round ${round + 1}: ` : ''}${summary(m)}`)
            assert.deepEqual(problems(m, rssBeforeMB), [], summary(m))
          }
        } catch (err) {
          await demo.stop('SIGKILL')
          demo = undefined
          throw err
        }
      })
    }
  })

  describe(`legitimate use is not refused by the attack limits (${transport})`, () => {
    test(`a long /autoPush: ${5 * SCALE} pushes on one held stream, no GOAWAY, no reset`, { timeout: 30_000 + SCALE * 2000 }, async () => {
      const demo = await spawnAttackedDemo(transport, { AUTOPUSH_INTERVAL_MS: '100' })
      const client = new H2Client(demo.url)
      const goaways: number[] = []
      client.session.on('goaway', (code: number) => goaways.push(code))
      try {
        const held = client.open('/autoPush')
        await held.response
        const end = Date.now() + 10_000 + SCALE * 1000
        while (client.pushes.filter((p) => p.ended).length < 5 * SCALE && Date.now() < end && !client.session.destroyed) await sleep(50)
        const pushes = client.pushes.filter((p) => p.ended)
        assert.ok(pushes.length >= 5 * SCALE, `${pushes.length} complete pushes`)
        for (const p of pushes) assert.equal(p.body.length > 0 && p.path === '/crt', true, `push ${p.id}: ${p.path}, ${p.body.length} bytes`)
        assert.deepEqual(goaways, [], 'GOAWAY codes received')
        assert.equal(held.stream.closed, false, 'the /autoPush stream is still open')
        assert.equal(client.session.destroyed, false, 'the connection is still up')
      } finally {
        await client.close()
        await demo.stop('SIGKILL')
      }
    })

    test(`128 concurrent busy streams on one connection, ${3 * SCALE} rounds, a few cancelled (as a browser does): all served, no GOAWAY`, {
      timeout: 60_000 + SCALE * 10_000,
    }, async () => {
      const demo = await spawnAttackedDemo(transport)
      const client = new H2Client(demo.url, { enablePush: false })
      const goaways: number[] = []
      client.session.on('goaway', (code: number) => goaways.push(code))
      try {
        await client.request('/crt')
        // The server's MAX_CONCURRENT_STREAMS is 128: every stream of a round is open at once.
        let served = 0
        let cancelled = 0
        for (let round = 0; round < 3 * SCALE; round++) {
          await Promise.all(
            Array.from({ length: 128 }, async (_, i) => {
              const stream = client.session.request({ ':path': i % 2 ? '/crt' : '/' })
              stream.on('error', () => {})
              const [headers] = (await Promise.race([once(stream, 'response'), once(stream, 'close').then(() => [{}])])) as [Record<string, unknown>]
              assert.equal(headers[':status'], 200, `round ${round}, stream ${i}: status`)
              if (i % 16 === 0) {
                // Cancelled after the response began (8 a round), like a navigation away or a dropped preload.
                stream.close(0x8)
                cancelled++
              } else {
                let bytes = 0
                stream.on('data', (chunk: Buffer) => (bytes += chunk.length))
                await once(stream, 'end')
                assert.ok(bytes > 0, `round ${round}, stream ${i}: body`)
                served++
              }
            }),
          )
        }
        assert.equal(served, 120 * 3 * SCALE)
        assert.equal(cancelled, 8 * 3 * SCALE)
        assert.deepEqual(goaways, [], 'GOAWAY codes received')
        assert.equal(client.session.destroyed, false, 'the connection is still up')
        assert.equal((await client.request('/crt')).status, 200)
      } finally {
        await client.close()
        await demo.stop('SIGKILL')
      }
    })
  })
}
