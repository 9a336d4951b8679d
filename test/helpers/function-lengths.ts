/**
 * Function lengths in physical lines (signature to closing brace), as Biome's parser sees
 * each function, arrow function and method. Used by test/code-shape.test.ts; also a script:
 *
 *   node --import tsx test/helpers/function-lengths.ts [folder ...]   (default: src middleware)
 *
 * prints every function of at least 30 lines, longest first.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

export interface FunctionLength {
  /** Path from the package root. */
  readonly file: string
  /** 1-based line the function starts on. */
  readonly line: number
  readonly lines: number
  /** Its first line, trimmed: enough to find it. */
  readonly text: string
}

interface BiomeReport {
  diagnostics: Array<{ category?: string; location?: { path?: string; start?: { line: number }; end?: { line: number } } }>
}

/** Every function under `folders` (relative to the package root). */
export function functionLengths(folders: readonly string[]): FunctionLength[] {
  // Biome's own rule with a limit of 1 reports every function with its span.
  const config = mkdtempSync(join(tmpdir(), 'function-lengths-'))
  try {
    writeFileSync(
      join(config, 'biome.json'),
      JSON.stringify({
        files: { includes: ['**', '!**/*.d.ts'] },
        formatter: { enabled: false },
        linter: { rules: { recommended: false, complexity: { noExcessiveLinesPerFunction: { level: 'error', options: { maxLines: 1 } } } } },
      }),
    )
    const run = spawnSync(
      join(root, 'node_modules/.bin/biome'),
      ['lint', `--config-path=${config}`, '--max-diagnostics=100000', '--reporter=json', ...folders],
      {
        cwd: root,
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      },
    )
    const report = JSON.parse(run.stdout) as BiomeReport
    const sources = new Map<string, string[]>()
    const lengths: FunctionLength[] = []
    for (const d of report.diagnostics) {
      if (d.category !== 'lint/complexity/noExcessiveLinesPerFunction' || !d.location?.path || !d.location.start || !d.location.end) continue
      const file = d.location.path
      if (!sources.has(file)) sources.set(file, readFileSync(join(root, file), 'utf8').split('\n'))
      const line = d.location.start.line
      lengths.push({ file, line, lines: d.location.end.line - line + 1, text: (sources.get(file)![line - 1] ?? '').trim().slice(0, 100) })
    }
    return lengths.sort((a, b) => b.lines - a.lines)
  } finally {
    rmSync(config, { recursive: true, force: true })
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const folders = process.argv.slice(2)
  for (const f of functionLengths(folders.length > 0 ? folders : ['src', 'middleware'])) {
    if (f.lines >= 30) console.log(`${String(f.lines).padStart(4)}  ${f.file}:${f.line}  ${f.text}`)
  }
}
