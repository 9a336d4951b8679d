#!/usr/bin/env node
/**
 * express-h2-push: see the HTTP/2 frames of a request (`inspect`), and write a push
 * manifest from a built site (`generate`).
 */
import { parseArgs } from 'node:util'
import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { checkUrl, inspect, parseDuration } from '../src/cli/inspect.js'
import { generateManifest, manifestDrift, manifestJson } from '../src/cli/generate.js'
import type { PushManifest } from '../src/manifest/load.js'

const USAGE = `usage:
  express-h2-push inspect <https-url> [--no-push] [--duration 12s] [--json] [--insecure|-k]
  express-h2-push generate <dir> [--out push-manifest.json] [--base /] [--vite FILE] [--check]

inspect   one GET over HTTP/2; prints every frame-level event with its time offset:
          request HEADERS, 103s, response HEADERS, PUSH_PROMISE, pushed HEADERS/DATA,
          END_STREAM, RST_STREAM, GOAWAY; then a summary. Held streams are kept open
          for --duration (default 10s; 1ms to 2147483647ms). --no-push: refuse push,
          as browsers do.
generate  reads the HTML files under <dir> and writes the push manifest of what each
          page needs first (validated against the schema), with what their stylesheets
          load (@import, @font-face fonts, url() images). A Vite build manifest
          (<dir>/.vite/manifest.json, or --vite FILE) adds each HTML entry's chunk, CSS
          and static imports. --check: compare with the existing file and exit 1 on
          drift (for CI).`

function fail(message: string, code = 2): never {
  process.stderr.write(`express-h2-push: ${message}\n`)
  process.exit(code)
}

async function runInspect(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'no-push': { type: 'boolean', default: false },
      duration: { type: 'string', default: '10s' },
      json: { type: 'boolean', default: false },
      insecure: { type: 'boolean', short: 'k', default: false },
    },
  })
  if (positionals.length !== 1) fail(`inspect takes one URL\n${USAGE}`)
  let durationMs: number
  try {
    durationMs = parseDuration(values.duration)
  } catch (err) {
    fail((err as Error).message)
  }
  const checked = checkUrl(positionals[0]!)
  if ('error' in checked) fail(checked.error, 1)
  const { code } = await inspect(checked.url, { noPush: values['no-push'], durationMs, json: values.json, insecure: values.insecure }, (line) =>
    process.stdout.write(line + '\n'),
  )
  return code
}

async function runGenerate(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o', default: 'push-manifest.json' },
      base: { type: 'string', default: '/' },
      vite: { type: 'string' },
      check: { type: 'boolean', default: false },
    },
  })
  if (positionals.length !== 1) fail(`generate takes one folder\n${USAGE}`)
  if (!values.base.startsWith('/')) fail(`--base ${JSON.stringify(values.base)} must start with "/"`)
  const dir = resolve(positionals[0]!)
  let generated
  try {
    generated = await generateManifest(dir, { base: values.base, vite: values.vite === undefined ? undefined : resolve(values.vite) })
  } catch (err) {
    fail(`${dir}: ${(err as Error).message}`, 1)
  }
  for (const note of generated.notes) process.stderr.write(`note: ${note}\n`)
  const out = resolve(values.out)
  if (values.check) {
    let existing: PushManifest
    try {
      existing = JSON.parse(await readFile(out, 'utf8')) as PushManifest
    } catch (err) {
      fail(`--check: cannot read ${out}: ${(err as Error).message}`, 1)
    }
    const drift = manifestDrift(generated.manifest, existing)
    if (drift.length > 0) {
      process.stderr.write(`${out} is out of date (run without --check to rewrite it):\n${drift.map((l) => `  ${l}\n`).join('')}`)
      return 1
    }
    process.stdout.write(`${out} is up to date (${Object.keys(generated.manifest).length} routes)\n`)
    return 0
  }
  await writeFile(out, manifestJson(generated.manifest, './node_modules/express-h2-push/push-manifest.schema.json'))
  const urls = Object.values(generated.manifest).reduce((n, entries) => n + Object.keys(entries).length, 0)
  const from = generated.vite === undefined ? '' : ` (with the Vite manifest ${generated.vite})`
  process.stdout.write(`wrote ${out}: ${Object.keys(generated.manifest).length} routes, ${urls} URLs${from}\n`)
  return 0
}

// `... | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

const [command, ...rest] = process.argv.slice(2)
try {
  if (command === 'inspect') process.exitCode = await runInspect(rest)
  else if (command === 'generate') process.exitCode = await runGenerate(rest)
  else if (command === undefined || command === '--help' || command === '-h' || command === 'help') process.stdout.write(USAGE + '\n')
  else fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`)
} catch (err) {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' || code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    fail(`${(err as Error).message}\n${USAGE}`)
  }
  fail((err as Error).message, 1)
}
