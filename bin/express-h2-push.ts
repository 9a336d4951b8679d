#!/usr/bin/env node
/**
 * express-h2-push: see the HTTP/2 frames of a request (`inspect`), and write a push
 * manifest from a built site (`generate`).
 *
 * Exit codes: 0 done; 1 the work failed (no response, a manifest not replaced, ...);
 * 2 a usage error (unknown command or option, a missing argument, no arguments at all).
 * Every error is one line on stderr starting with `express-h2-push: `.
 */
import { createRequire } from 'node:module'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { checkUrl, inspect, parseDuration } from '../src/cli/inspect.js'
import { generateManifest, manifestDrift } from '../src/cli/generate.js'
import { describeSize, plural, writeManifest } from '../src/cli/write-manifest.js'
import type { PushManifest } from '../src/manifest/load.js'
import { closest } from '../src/options/validate.js'

const PREFIX = 'express-h2-push: '

const INSPECT_USAGE = `usage: express-h2-push inspect <https-url> [--no-push] [--duration 12s] [--json] [--insecure|-k]

One GET over HTTP/2; prints every frame-level event with its time offset: request HEADERS,
103s, response HEADERS, PUSH_PROMISE, pushed HEADERS/DATA, END_STREAM, RST_STREAM, GOAWAY;
then a summary.

  --no-push        refuse push (SETTINGS_ENABLE_PUSH = 0), as browsers do: see the 103 instead
  --duration TIME  how long the exchange may last; held streams are reset then
                   (default 10s; 500ms, 12s, 2m; 1ms to 2147483647ms)
  --json           one JSON object per line
  -k, --insecure   accept an untrusted (development) certificate
  -h, --help       this help

example: express-h2-push inspect https://localhost:8443/push -k`

const GENERATE_USAGE = `usage: express-h2-push generate <dir> [--out push-manifest.json] [--base /] [--vite FILE] [--check] [--force]

Reads the HTML files under <dir> (a built site) and writes the push manifest of what each
page needs first (validated against the schema), with what their stylesheets load
(@import, @font-face fonts, url() images). A Vite build manifest (<dir>/.vite/manifest.json,
or --vite FILE) adds each HTML entry's chunk, CSS and static imports.

  -o, --out FILE   the manifest to write (default push-manifest.json)
  --base PATH      the URL path the site is served under (default /)
  --vite FILE      a Vite build manifest
  --check          compare with the existing file; exit 1 listing the drift (for CI)
  --force          replace an existing manifest even when the new one has fewer routes or URLs
  -h, --help       this help

example: express-h2-push generate dist --out push-manifest.json`

const USAGE = `usage: express-h2-push <command> [options]

commands:
  inspect <https-url>   the HTTP/2 frames of one request: pushes, 103s, resets
  generate <dir>        write a push manifest from a built site

  express-h2-push <command> --help   the options of a command
  express-h2-push --version          the version

exit codes: 0 done, 1 failed, 2 usage error`

class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message)
  }
}

function version(): string {
  return (createRequire(import.meta.url)('express-h2-push/package.json') as { version: string }).version
}

/** parseArgs with its errors turned into one line that names the command and points at its --help. */
function parse<O extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: O) {
  try {
    return parseArgs({ args, allowPositionals: true, strict: true, options: { ...options, help: { type: 'boolean', short: 'h', default: false } } })
  } catch (err) {
    const message = (err as Error).message
    const unknown = /Unknown option '([^']+)'/.exec(message)
    if (unknown) {
      const known = Object.entries(options).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])])
      const hint = closest(unknown[1]!, known)
      throw new UsageError(`${command}: unknown option ${unknown[1]}${hint ? ` (did you mean ${hint}?)` : ''}`, command)
    }
    const missing = /Option '(?:-\w, )?(--[\w-]+) <value>' argument missing/.exec(message)
    if (missing) throw new UsageError(`${command}: ${missing[1]} needs a value`, command)
    throw new UsageError(`${command}: ${message.split('.')[0]}`, command)
  }
}

async function runInspect(args: string[]): Promise<number> {
  const { values, positionals } = parse('inspect', args, {
    'no-push': { type: 'boolean', default: false },
    duration: { type: 'string', default: '10s' },
    json: { type: 'boolean', default: false },
    insecure: { type: 'boolean', short: 'k', default: false },
  })
  if (values.help) {
    process.stdout.write(`${INSPECT_USAGE}\n`)
    return 0
  }
  if (positionals.length !== 1) throw new UsageError(`inspect takes one URL, got ${positionals.length}`, 'inspect')
  let durationMs: number
  try {
    durationMs = parseDuration(values.duration)
  } catch (err) {
    throw new UsageError((err as Error).message, 'inspect')
  }
  const checked = checkUrl(positionals[0]!)
  if ('error' in checked) return fail(checked.error)
  const { code } = await inspect(
    checked.url,
    { noPush: values['no-push'], durationMs, json: values.json, insecure: values.insecure },
    (line) => process.stdout.write(`${line}\n`),
    (message) => process.stderr.write(`${PREFIX}${message}\n`),
  )
  return code
}

async function runGenerate(args: string[]): Promise<number> {
  const { values, positionals } = parse('generate', args, {
    out: { type: 'string', short: 'o', default: 'push-manifest.json' },
    base: { type: 'string', default: '/' },
    vite: { type: 'string' },
    check: { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
  })
  if (values.help) {
    process.stdout.write(`${GENERATE_USAGE}\n`)
    return 0
  }
  if (positionals.length !== 1) throw new UsageError(`generate takes one folder (the built site), got ${positionals.length}`, 'generate')
  if (!values.base.startsWith('/')) throw new UsageError(`generate: --base ${JSON.stringify(values.base)} must start with "/"`, 'generate')
  const dir = resolve(positionals[0]!)
  let generated
  try {
    generated = await generateManifest(dir, { base: values.base, vite: values.vite === undefined ? undefined : resolve(values.vite) })
  } catch (err) {
    return fail(`${dir}: ${(err as Error).message}`)
  }
  for (const note of generated.notes) process.stderr.write(`note: ${note}\n`)
  const out = resolve(values.out)
  const routes = Object.keys(generated.manifest).length
  if (values.check) {
    let existing: PushManifest
    try {
      existing = JSON.parse(await readFile(out, 'utf8')) as PushManifest
    } catch (err) {
      return fail(`--check: cannot read ${out}: ${(err as Error).message}`)
    }
    const drift = manifestDrift(generated.manifest, existing)
    if (drift.length > 0) {
      process.stderr.write(`${PREFIX}${out} is out of date (run without --check to rewrite it):\n${drift.map((l) => `  ${l}\n`).join('')}`)
      return 1
    }
    process.stdout.write(`${out} is up to date (${plural(routes, 'route')})\n`)
    return 0
  }
  let written
  try {
    written = await writeManifest(out, generated.manifest, { force: values.force, from: dir })
  } catch (err) {
    return fail(`${(err as { code?: string }).code ?? 'Error'}: ${(err as Error).message}`)
  }
  const from = generated.vite === undefined ? '' : ` (with the Vite manifest ${generated.vite})`
  const replaced = written.replaced ? `, replacing ${describeSize(written.replaced)}` : ''
  process.stdout.write(`wrote ${out}: ${describeSize(written.size)}${from}${replaced}\n`)
  return 0
}

function fail(message: string): 1 {
  process.stderr.write(`${PREFIX}${message}\n`)
  return 1
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'inspect':
      return runInspect(rest)
    case 'generate':
      return runGenerate(rest)
    case '--version':
    case '-v':
      process.stdout.write(`${version()}\n`)
      return 0
    case '--help':
    case '-h':
    case 'help':
      if (rest[0] === 'inspect' || rest[0] === 'generate') return main([rest[0], '--help'])
      process.stdout.write(`${USAGE}\n`)
      return 0
    case undefined:
      process.stderr.write(`${USAGE}\n`)
      return 2
    default: {
      const hint = closest(command, ['inspect', 'generate', '--version', '--help'])
      throw new UsageError(`unknown command ${JSON.stringify(command)}${hint ? ` (did you mean ${hint}?)` : ''}`)
    }
  }
}

// `... | head` closes stdout early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  throw err
})

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (err) {
  if (err instanceof UsageError) {
    const help = err.command ? `express-h2-push ${err.command} --help` : 'express-h2-push --help'
    process.stderr.write(`${PREFIX}${err.message}\n(run \`${help}\` for usage)\n`)
    process.exitCode = 2
  } else {
    process.stderr.write(`${PREFIX}${(err as Error).message}\n`)
    process.exitCode = 1
  }
}
