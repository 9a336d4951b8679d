/**
 * The closing table of `npm run bench`: every ratio the benchmarks wrote into the
 * `summary` of their bench/results/<name>.json (bench/harness.ts, `writeResults`), with
 * its target and whether it met it. Results older than `--since <ISO date>` (the start
 * of the run; the page loads, which `npm run bench` does not run) are shown with their
 * date. BENCH_RESULTS names another results folder.
 *   node dist/bench/summary.js [--since 2026-01-01T00:00:00Z]
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { RESULTS_DIR, type SummaryRow } from './harness.js'

interface ResultsFile {
  name: string
  date: Date
  node: string
  summary: SummaryRow[]
}

/** Every results file with a summary, oldest first (the order the benchmarks ran in). */
export async function readSummaries(dir: string): Promise<ResultsFile[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.json')).sort()
  const files: ResultsFile[] = []
  for (const file of names) {
    const path = join(dir, file)
    let json: { date?: string; node?: string; summary?: unknown }
    try {
      json = JSON.parse(await readFile(path, 'utf8')) as typeof json
    } catch {
      continue
    }
    if (!Array.isArray(json.summary)) continue
    const date = json.date ? new Date(json.date) : (await stat(path)).mtime
    files.push({ name: file.replace(/\.json$/, ''), date, node: json.node ?? '', summary: json.summary as SummaryRow[] })
  }
  return files.sort((a, b) => a.date.getTime() - b.date.getTime())
}

/** The table, as markdown lines: a row per ratio; rows from before `since` carry their file's date. */
export function summaryTable(files: readonly ResultsFile[], since?: Date): string[] {
  const lines = ['| ratio | value | target | met |', '|---|---|---|---|']
  const current = files.filter((f) => !since || f.date >= since)
  const earlier = files.filter((f) => since && f.date < since)
  for (const f of [...current, ...earlier]) {
    const from = since && f.date < since ? ` (earlier run: ${f.date.toISOString().slice(0, 16).replace('T', ' ')} UTC${f.node ? `, Node ${f.node}` : ''})` : ''
    for (const row of f.summary) {
      const iv = row.interval
      const interval = iv?.every(Number.isFinite) ? ` (95 %: ${iv[0].toFixed(2)}–${iv[1].toFixed(2)})` : ''
      const value = typeof row.ratio === 'number' && Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}×${interval}` : 'n/a'
      const met = row.ok === true ? 'ok' : row.ok === false ? '**MISS**' : ''
      lines.push(`| ${row.label}${from} | ${value} | ${row.target ? row.target.replace(/\s+/g, ' ') : ''} | ${met} |`)
    }
  }
  return lines
}

const at = process.argv.indexOf('--since')
const since = at > 0 && process.argv[at + 1] ? new Date(process.argv[at + 1]!) : undefined
const files = await readSummaries(RESULTS_DIR)
const rows = files.reduce((n, f) => n + f.summary.length, 0)
const missed = files.flatMap((f) => f.summary).filter((r) => r.ok === false).length
console.log(`\nSummary: ${rows} ratios from ${files.length} results in ${RESULTS_DIR}, ${missed} target${missed === 1 ? '' : 's'} missed\n`)
for (const line of summaryTable(files, since)) console.log(line)
