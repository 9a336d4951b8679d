/**
 * docs/options.md, generated from src/options/push-manifest.ts: each option's text and
 * type from the `PushManifestOptions` / `CacheDigestOptions` interfaces, its default from
 * `PUSH_MANIFEST_DEFAULTS` / `CACHE_DIGEST_DEFAULTS`. test/options.test.ts checks the file
 * is up to date; to write it:
 *
 *   node --import tsx test/helpers/options-doc.ts
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { CACHE_DIGEST_DEFAULTS, DEPRECATED_OPTIONS, PUSH_MANIFEST_DEFAULTS } from '../../src/options/push-manifest.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
export const OPTIONS_SOURCE = 'src/options/push-manifest.ts'
export const OPTIONS_DOC = 'docs/options.md'

export interface DocumentedOption {
  readonly name: string
  /** The TypeScript type as written. */
  readonly type: string
  /** The JSDoc text, on one line. */
  readonly text: string
  readonly deprecated: boolean
}

/** The properties of `interface name` in the options module, with their JSDoc. */
export function documentedOptions(name: 'PushManifestOptions' | 'CacheDigestOptions'): DocumentedOption[] {
  const source = readFileSync(`${root}${OPTIONS_SOURCE}`, 'utf8')
  const start = source.indexOf(`export interface ${name} {`)
  const body = source.slice(start, source.indexOf('\n}', start))
  return [...body.matchAll(/\/\*\*([\s\S]*?)\*\/\s*\n\s*(\w+)\??:\s*([^\n]+)/g)].map((m) => {
    const text = m[1]!
      .split('\n')
      .map((line) => line.replace(/^\s*\*\s?/, '').trim())
      .filter(Boolean)
      .join(' ')
    return { name: m[2]!, type: m[3]!.trim(), text: text.replace(/^@deprecated\s*/, ''), deprecated: text.startsWith('@deprecated') }
  })
}

/** The JSDoc's own "Default ..." sentence (its last), which the default column shows. */
export function defaultSentence(text: string): string | undefined {
  return /\bDefault\b(?![\s\S]*\bDefault\b)[\s\S]*$/.exec(text)?.[0]
}

function withoutDefault(text: string): string {
  const sentence = defaultSentence(text)
  return sentence === undefined ? text : text.slice(0, text.length - sentence.length).trim()
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|')
}

function table(options: readonly DocumentedOption[], defaults: Readonly<Record<string, { readonly shown: string }>>): string[] {
  const rows = ['| option | type | default | what it does |', '|---|---|---|---|']
  for (const o of options) {
    if (o.deprecated) continue
    rows.push(`| \`${o.name}\` | \`${cell(o.type)}\` | ${cell(defaults[o.name]?.shown ?? '–')} | ${cell(withoutDefault(o.text))} |`)
  }
  return rows
}

/** The text of docs/options.md. */
export function renderOptionsDoc(): string {
  const deprecated = documentedOptions('PushManifestOptions').filter((o) => o.deprecated)
  return [
    '# pushManifest() options',
    '',
    `Generated from \`${OPTIONS_SOURCE}\` by \`node --import tsx test/helpers/options-doc.ts\`; \`npm test\` fails when it is out of date.`,
    'Durations take a number of ms or a string (`"30s"`, `"1h"`, read by the `ms` package); sizes a number of bytes or a',
    'string (`"512kb"`, `"1mb"`, read by the `bytes` package). Unknown options and bad values throw `ERR_H2PUSH_INVALID_OPTION`',
    'at construction, naming the option and the value.',
    '',
    '```ts',
    "app.use(pushManifest({ manifest: 'push-manifest.json', root: 'public', maxPushBytes: '1mb', pushTimeout: '30s' }))",
    '```',
    '',
    ...table(documentedOptions('PushManifestOptions'), PUSH_MANIFEST_DEFAULTS),
    '',
    '## `cacheDigest` settings',
    '',
    '```ts',
    "app.use(pushManifest({ manifest: 'push-manifest.json', cacheDigest: { cookieName: 'pushed', maxAge: '30d' } }))",
    '```',
    '',
    ...table(documentedOptions('CacheDigestOptions'), CACHE_DIGEST_DEFAULTS),
    '',
    '## Renamed options',
    '',
    'Still read under their old names, with a `DeprecationWarning` (once per process); passing both names is an error.',
    '',
    '| old name | new name | warning code |',
    '|---|---|---|',
    ...deprecated.map((o) => {
      const { renamed, code } = DEPRECATED_OPTIONS[o.name as keyof typeof DEPRECATED_OPTIONS]
      return `| \`${o.name}\` | \`${renamed}\` | \`${code}\` |`
    }),
    '',
  ].join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(`${root}${OPTIONS_DOC}`, renderOptionsDoc())
  console.log(`wrote ${OPTIONS_DOC}`)
}
