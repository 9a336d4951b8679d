/**
 * The benchmarks still run: each script, compiled as `npm run bench` runs it, with tiny
 * loads, prints its table (no failed requests) and writes its JSON. Numbers are not
 * checked here: speed is measured by `npm run bench`, not asserted in tests.
 */
import { test, describe, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bursts, parsePackets } from '../bench/capture.js'
import { layerSamples, NATIVE, perfWorks } from '../bench/perf-layers.js'
import { median, medianRatioInterval } from '../bench/harness.js'

const run = promisify(execFile)
const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const root = fileURLToPath(new URL('../', import.meta.url))

/** The rows of the markdown tables a benchmark printed, as cells. */
function rows(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('|---') && !/^\| (server|transport|cacheDigest|ratio) \|/.test(line))
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    )
}

describe('benchmarks (smoke: tiny loads)', () => {
  let results: string
  const bench = async (script: string, env: Record<string, string>) => {
    const { stdout } = await run(process.execPath, [`dist/bench/${script}.js`], {
      cwd: root,
      env: { ...process.env, BENCH_RESULTS: results, ROUNDS: '1', ...env },
      timeout: 120_000,
      maxBuffer: 16 << 20,
    })
    return stdout
  }

  before(async () => {
    results = await mkdtemp(join(tmpdir(), 'h2push-bench-'))
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.bench.json'], { cwd: root })
  })

  test('transport and middleware: a row per server, no failed or errored request, a JSON file', async () => {
    for (const [script, servers] of [
      ['transport', ['stock', 'compat', 'http2']],
      ['middleware', ['plain', 'plain+manifest']],
    ] as const) {
      const stdout = await bench(script, { REQUESTS: '300', CLIENTS: '3', STREAMS: '5' })
      const table = rows(stdout)
      for (const server of servers) {
        const row = table.find((r) => r[0] === server)
        assert.ok(row, `${script}: no row for ${server}\n${stdout}`)
        if (row[1] === '–') {
          // Only stock spdy may fail to start, and only on Node 24+; every other server must start.
          assert.ok(script === 'transport' && server === 'stock' && NODE_MAJOR >= 24, `${script} ${server} did not start\n${stdout}`)
          continue
        }
        assert.ok(Number(row[1]) > 0, `${script} ${server}: rate ${row[1]}`)
        assert.deepEqual([row[3], row[4]], ['0', '0'], `${script} ${server}: failed/errored`)
      }
      const json = JSON.parse(await readFile(join(results, `${script}.json`), 'utf8')) as { results: Record<string, unknown> }
      assert.deepEqual(Object.keys(json.results), [...servers])
    }
  })

  test('bridge: a row per server, no failed or errored request, a summary of ratios in its JSON', async () => {
    const servers = ['ours-http2', 'http2-express', 'bare-http2-compat', 'bare-http2-stream', 'express-http1', 'bare-http1']
    const stdout = await bench('bridge', { REQUESTS: '300', CLIENTS: '3', STREAMS: '5' })
    const table = rows(stdout)
    for (const server of servers) {
      const row = table.find((r) => r[0] === server)
      assert.ok(row, `bridge: no row for ${server}\n${stdout}`)
      assert.ok(Number(row[1]) > 0, `bridge ${server}: rate ${row[1]}`)
      assert.deepEqual([row[3], row[4]], ['0', '0'], `bridge ${server}: failed/errored`)
    }
    const json = JSON.parse(await readFile(join(results, 'bridge.json'), 'utf8')) as {
      summary: { label: string; ratio: number; target: string; ok: boolean }[]
    }
    assert.deepEqual(
      json.summary.map((s) => s.target),
      ['>= 1.2', '>= 0.45'],
    )
    for (const s of json.summary) assert.ok(typeof s.label === 'string' && Number.isFinite(s.ratio) && typeof s.ok === 'boolean', JSON.stringify(s))
  })

  test('push: every push of every nghttp run completed', async () => {
    const stdout = await bench('push', { PROCESSES: '1', CONNECTIONS: '2', M: '2', DYNAMIC_SIZES: '1024' })
    const table = rows(stdout)
    assert.equal(table.length, 4, stdout)
    for (const row of table) {
      assert.ok(Number(row[1]) > 0, `${row[0]}: ${row[1]} pushes/s`)
      assert.equal(row[3], '0', `${row[0]}: failed runs\n${stdout}`)
    }
  })

  test('first push: a latency per server and transport, every connection promised a push', async () => {
    const stdout = await bench('first-push', { CONNECTIONS: '3' })
    const table = rows(stdout)
    assert.deepEqual(
      table.map((r) => r[0]),
      ['push-handwritten', 'push-manifest', 'push-handwritten', 'push-manifest'],
      stdout,
    )
    for (const row of table) {
      assert.ok(Number(row[1]) > 0, `${row[0]}: ${row[1]} µs`)
      assert.equal(row[3], '0', `${row[0]}: connections with no PUSH_PROMISE\n${stdout}`)
    }
  })

  test("connection setup: fresh and warm rows, times and CPU for both transports; spdy's warm-up against warmUp: false", async () => {
    const stdout = await bench('connection-setup', { ROUNDS: '1', FRESH: '3', WARM: '4' })
    const table = rows(stdout).filter((row) => row[0] !== 'connections')
    assert.equal(table.length, 5, stdout)
    for (const row of table.slice(0, 3)) {
      for (const cell of [row[1], row[2], row[4], row[5]]) assert.ok(Number(cell) > 0, `${row[0]}: ${cell}\n${stdout}`)
      assert.match(row[3]!, /^[\d.]+×$/)
    }
    assert.deepEqual(
      table.slice(3).map((row) => row[0]),
      ['first connection of a fresh server', 'connections 2..3 of a fresh server'],
      stdout,
    )
    for (const row of table.slice(3)) {
      for (const cell of [row[1], row[2], row[4]]) assert.ok(Number(cell) > 0, `${row[0]}: ${cell}\n${stdout}`)
      for (const cell of [row[3], row[5]]) assert.match(cell!, /^[\d.]+×$/)
    }
    assert.match(stdout, /createServer, median: spdy \d+ ms \(the warm-up included\), spdy with warmUp: false \d+ ms, node:http2 \d+ ms/)
  })

  test('cold load: CPU per load, main thread and all threads, for both transports', async () => {
    const stdout = await bench('cold-load', { ROUNDS: '1', LOADS: '3' })
    const table = rows(stdout).filter((row) => row[0] !== 'server CPU per load (ms)')
    assert.deepEqual(
      table.map((r) => r[0]),
      ['load 1, main thread', 'loads 2..3, main thread', 'loads 2..3, all threads'],
      stdout,
    )
    for (const row of table) {
      for (const cell of [row[1], row[2]]) assert.ok(Number(cell) > 0, `${row[0]}: ${cell}\n${stdout}`)
      assert.match(row[3]!, /^[\d.]+×$/)
    }
  })

  test("cold load's ALLOC=1: bytes allocated per load on both transports, and spdy's largest allocation sites", async () => {
    const stdout = await bench('cold-load', { ROUNDS: '1', LOADS: '3', ALLOC: '1' })
    const row = rows(stdout).find((r) => r[0]?.startsWith('loads 2..3, KB allocated'))
    assert.ok(row, stdout)
    // A page load allocates hundreds of KB on either transport (its requests, responses, Express's work).
    assert.ok(Number(row[1]) > 50 && Number(row[2]) > 50, stdout)
    const sites = rows(stdout).filter((r) => r.length === 2 && r[0] !== 'site' && /:\d+$/.test(r[0]!))
    assert.ok(sites.length >= 5, stdout)
    assert.ok(!sites.some((r) => r[0]!.includes('alloc-sampling')), `the profiler's own writing is not counted:\n${stdout}`)
  })

  test("cold load's PERF=1: the main thread's CPU per load charged to layers, spdy's own on spdy only, node:http2's on node:http2 only", async (t) => {
    if (!(await perfWorks())) return t.skip('`perf record` does not work here (linux-perf, or kernel.perf_event_paranoid)')
    const stdout = await bench('cold-load', { ROUNDS: '1', LOADS: '3', PERF: '1' })
    const layer = (name: string) => {
      const row = rows(stdout).find((r) => r[0] === name)
      assert.ok(row, `no row for ${name}:\n${stdout}`)
      return { spdy: Number(row[1]), http2: Number(row[2]) }
    }
    for (const name of ['express-h2-push: spdy layer', 'spdy-transport']) {
      const { spdy, http2 } = layer(name)
      assert.ok(spdy > 0 && http2 === 0, `${name}: ${spdy} / ${http2}\n${stdout}`)
    }
    const h2 = layer("node:http2's JavaScript")
    assert.ok(h2.http2 > 0 && h2.spdy === 0, `node:http2's JavaScript: ${h2.spdy} / ${h2.http2}\n${stdout}`)
    const all = layer('all (busy samples)')
    assert.ok(all.spdy > 0 && all.http2 > 0, stdout)
  })

  test('the ratio of two medians with its bootstrap interval: the same for the same samples, holding the ratio, as wide as the samples spread', () => {
    // Nine page loads a side, hints off, from one run of the browser bench (ms).
    const spdy = [808, 874, 869, 864, 853, 845, 798, 783, 854]
    const node = [834, 815, 869, 841, 823, 833, 797, 844, 797]
    const [lo, hi] = medianRatioInterval(spdy, node)
    assert.deepEqual(medianRatioInterval(spdy, node), [lo, hi], 'seeded: the same interval every time')
    const ratio = median(spdy) / median(node)
    assert.ok(lo < ratio && ratio < hi, `${lo} < ${ratio} < ${hi}`)
    assert.ok(hi - lo > 0.05, `nine loads a side do not pin the ratio to 1 %: ${lo}–${hi}`)
    assert.deepEqual(medianRatioInterval([500, 500, 500], [500, 500, 500]), [1, 1])
    // Twice the samples a side, with the same spread: a narrower interval.
    const [lo2, hi2] = medianRatioInterval([...spdy, ...spdy.map((x) => x + 1)], [...node, ...node.map((x) => x + 1)])
    assert.ok(hi2 - lo2 < hi - lo, `${lo2}–${hi2} against ${lo}–${hi}`)
    assert.deepEqual(medianRatioInterval([], node), [Number.NaN, Number.NaN])
  })

  test("perf's samples charged to layers: the innermost JavaScript frame's file names the layer; none is native; epoll is idle; other threads are left out", () => {
    // perf script -F pid,tid,ip,sym, trimmed: innermost frame first.
    const text = [
      '  900/900  ',
      '\t  14cd0c Builtins_LoadIC',
      '\t  7f00a1 JS:^onFrameBody /app/node_modules/spdy-transport/lib/spdy-transport/protocol/http2/parser.js:132:53',
      '\t  7f00a2 JS:^pushFrame file:///app/dist/src/compat/spdy/guarded-connection.js:173:30',
      '',
      '  900/900  ',
      '\t  7f00b1 JS:*emitRequest file:///app/dist/src/compat/spdy/direct-requests.js:519:21',
      '\t  7f00b2 JS:^handle /app/node_modules/express/lib/application.js:152:29',
      '',
      '  900/900  ',
      '\t  7f00c1 JS:~next /app/node_modules/router/index.js:189:17',
      '',
      '  900/900  ',
      '\t  9aa001 ssl3_read_bytes',
      '\t  9aa002 node::crypto::TLSWrap::ClearOut',
      '',
      '  900/900  ',
      '\t  108cae epoll_pwait',
      '\t  14ac8a uv_run',
      '',
      '  900/901  ',
      '\t  e14a01 v8::internal::interpreter::BytecodeGenerator::GenerateBytecodeBody',
      '',
      '  900/900  ',
      '\t  7f00d1 JS:^onStreamRead node:internal/http2/core:1:1',
      '',
    ].join('\n')
    const got = layerSamples(text)
    assert.equal(got.busy, 5)
    assert.equal(got.idle, 1)
    assert.deepEqual(Object.fromEntries(got.byLayer), {
      'spdy-transport': 1,
      'express-h2-push: spdy layer': 1,
      'Express and its modules': 1,
      [NATIVE]: 1,
      "node:http2's JavaScript": 1,
    })
  })

  test('memory: per-stream numbers for each transport and layer', async () => {
    const stdout = await bench('memory', { STREAMS: '100', CONNECTIONS: '5', LAYERS: 'bare,demo' })
    const table = rows(stdout)
    assert.deepEqual(
      table.map((r) => `${r[0]} ${r[1]} ${r[2]}`),
      ['spdy bare 100', 'spdy demo 100', 'http2 bare 100', 'http2 demo 100'],
    )
    // The first cycle's heap per held stream, and the second's in brackets.
    for (const row of table) assert.match(row[3]!, /^-?[\d.]+ KB \(-?[\d.]+ KB\)$/)
  })

  test('returning visitor: nothing pushed again with the digest cookie', async () => {
    const table = rows(await bench('returning-visitor', {}))
    assert.deepEqual(
      table.map((r) => r.slice(0, 3)),
      [
        ['true', '40960', '0'],
        ['false', '40960', '40960'],
      ],
    )
  })

  test('summary: one table of the ratios every benchmark wrote, older results marked with their date', async () => {
    // A results file from an earlier run (as the page loads leave one) and a file without a summary.
    const earlier = {
      node: 'v20.0.0',
      date: '2026-01-02T03:04:00.000Z',
      summary: [{ label: 'pageload: spdy / node:http2', ratio: 1.2, target: '<= 1.01', ok: false, interval: [1.1, 1.3] }],
    }
    await writeFile(join(results, 'pageload-browser.json'), JSON.stringify(earlier))
    await writeFile(join(results, 'pageload.json'), JSON.stringify({ node: 'v20.0.0', targets: [] }))
    const since = new Date(Date.now() - 3_600_000).toISOString()
    const { stdout } = await run(process.execPath, ['dist/bench/summary.js', '--since', since], { cwd: root, env: { ...process.env, BENCH_RESULTS: results } })
    const table = rows(stdout)
    const labels = table.map((r) => r[0]!)
    // The benchmarks run above (when they ran: this test also runs alone) wrote their rows.
    for (const [file, label] of [
      ['transport', 'transport: compat vs stock, req/s'],
      ['memory', 'memory: spdy bare, 2nd cycle'],
      ['returning-visitor', 'returning visitor: bytes pushed again / first visit, cacheDigest true'],
    ] as const) {
      const json = await readFile(join(results, `${file}.json`), 'utf8').catch(() => undefined)
      if (json)
        assert.ok(
          labels.some((l) => l.startsWith(label)),
          `no row "${label}"\n${stdout}`,
        )
    }
    const last = table.at(-1)!
    assert.deepEqual(last, ['pageload: spdy / node:http2 (earlier run: 2026-01-02 03:04 UTC, Node v20.0.0)', '1.20× (95 %: 1.10–1.30)', '<= 1.01', '**MISS**'])
    for (const row of table) {
      assert.match(row[1]!, /^(-?[\d.]+×( \(95 %: [\d.]+–[\d.]+\))?|n\/a)$/, `value of ${row[0]}`)
      assert.ok(['ok', '**MISS**', ''].includes(row[3]!), `met of ${row[0]}: ${row[3]}`)
      assert.ok(row[2] === '' || /^(>=|<=) [\d.]+$/.test(row[2]!), `target of ${row[0]}: ${row[2]}`)
    }
    assert.match(stdout, /Summary: \d+ ratios from \d+ results in .*, [1-9]\d* targets? missed/)
  })

  test('pageload: without its prerequisites it says which and exits non-zero, before building any lab', async () => {
    // The lab needs root and perflab; here perflab is missing (and, if not root, root too).
    const failed = await bench('pageload', { PERFLAB: join(results, 'no-perflab') }).then(
      (stdout) => assert.fail(`expected a failure, got:\n${stdout}`),
      (err: { code?: number; stderr?: string }) => err,
    )
    assert.equal(failed.code, 1)
    assert.match(failed.stderr ?? '', /^bench:pageload: (needs root|no perflab at .*no-perflab .*set PERFLAB)/m)
  })

  test("pageload's CAPTURE=1: a connection's stylesheet burst read from tcpdump's lines (the server's reaction less the one-way delay, the transfer, full and partial segments)", () => {
    // tcpdump -nn -tt -r of a load through the lab (25 ms each way), our server on port 33871, trimmed;
    // a line of another connection and one of another protocol in between.
    const at = (ms: number) => (1796645177 + ms / 1000).toFixed(6)
    const line = (ms: number, out: boolean, length: number, client = 57652) =>
      out
        ? `${at(ms)} ?     Out IP 10.200.0.1.33871 > 10.200.0.2.${client}: Flags [P.], seq 1:2, ack 3, win 73, length ${length}`
        : `${at(ms)} ?     In  IP 10.200.0.2.${client} > 10.200.0.1.33871: Flags [P.], seq 1:2, ack 3, win 75, length ${length}`
    const text = [
      line(0, false, 517), // the page request
      line(30, true, 1898), // the page
      line(137, false, 121), // the stylesheets' requests
      line(137.5, false, 177),
      line(150, true, 0, 40000), // another connection
      `${at(151)} ARP, Request who-has 10.200.0.1 tell 10.200.0.2, length 28`,
      line(162.5, true, 0), // an ACK
      line(193.8, true, 2896), // the burst: 56.3 ms after the last request, 25 of them the lab's delay
      line(197.3, true, 2896),
      line(200.9, true, 1448),
      line(240.1, true, 2896),
      line(244.0, true, 1000), // a partial segment
      line(420.0, true, 1200), // after the load, past the gap: not the burst
    ].join('\n')
    const packets = parsePackets(text, 33871)
    assert.equal(packets.length, 12)
    assert.deepEqual(
      bursts(packets, 25).map((b) => ({ ...b, reactionMs: Math.round(b.reactionMs * 10) / 10, transferMs: Math.round(b.transferMs * 10) / 10 })),
      [{ client: 57652, reactionMs: 31.3, transferMs: 50.2, bytes: 11136, segments: 8, partial: 1 }],
    )
  })
})
