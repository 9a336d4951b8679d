/**
 * The README's Quick start, as a newcomer runs it: its code blocks (those with `file=` in
 * their info string) are written into empty folders with the packed tarball installed, as
 * its commands say (`npm init -y`, `npm install ...`), in a CommonJS project (`app.js`, and
 * the ES module `app.mjs`) and a TypeScript one (`"type": "module"`, `app.ts` compiled with
 * the README's tsconfig); each app is started and must push (nghttp), send a 103 (curl),
 * print what "See it work" shows (`npx express-h2-push inspect`), and serve its stylesheet
 * fresh enough that the stale-hint warning stays quiet. So the README cannot rot.
 * Needs the npm registry (or its cache) for express, helmet and typescript.
 */
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { compileManifest } from '../src/manifest/load.js'
import { nghttp } from './helpers/nghttp.js'
import { ROOT } from './helpers/server.js'

const run = promisify(execFile)
const INSTALL_FLAGS = ['--no-audit', '--no-fund', '--prefer-offline']

interface Block {
  lang: string
  meta: Record<string, string>
  code: string
  /** The `##`/`###` heading the block is under. */
  section: string
  /** The text between the previous block and this one. */
  before: string
}

function blocks(markdown: string): Block[] {
  const found: Block[] = []
  const fence = /^```(\S*)([^\n]*)\n([\s\S]*?)^```$/gm
  let last = 0
  for (let m = fence.exec(markdown); m; m = fence.exec(markdown)) {
    const headings = [...markdown.slice(0, m.index).matchAll(/^#{2,3} (.*)$/gm)]
    const meta = Object.fromEntries(
      m[2]!
        .trim()
        .split(/\s+/)
        .filter((w) => w.includes('='))
        .map((w) => w.split('=', 2) as [string, string]),
    )
    found.push({ lang: m[1]!, meta, code: m[3]!, section: headings.at(-1)?.[1] ?? '', before: markdown.slice(last, m.index) })
    last = m.index + m[0].length
  }
  return found
}

let readme: Block[]
let tarball: string
const folders: string[] = []
const children = new Set<ChildProcessWithoutNullStreams>()

function quickStart(): Block[] {
  return readme.filter((b) => b.section === 'Quick start' || b.section === 'CommonJS' || b.section === 'ES modules and TypeScript')
}

/** The README's commands of a section, one per line, in order. */
function commands(section: string): string[] {
  return quickStart()
    .filter((b) => b.section === section && b.lang === 'sh')
    .flatMap((b) => b.code.trim().split('\n'))
}

/** Runs one of the README's setup commands, the package named `express-h2-push` being the packed tarball. */
async function shell(line: string, cwd: string): Promise<string> {
  const [command, ...args] = line.split(/\s+/)
  if (command === 'mkdir') {
    await mkdir(join(cwd, args.at(-1)!), { recursive: true })
    return ''
  }
  const install = command === 'npm' && args[0] === 'install'
  const argv = install ? [...args.map((a) => (a === 'express-h2-push' ? tarball : a)), ...INSTALL_FLAGS] : args
  const { stdout, stderr } = await run(command!, argv, { cwd, timeout: 240_000, maxBuffer: 16 << 20 })
  return stdout + stderr
}

async function writeFiles(cwd: string, variant: string | undefined, rename: Record<string, string> = {}): Promise<void> {
  for (const block of quickStart()) {
    const file = block.meta['file']
    if (file === undefined || (block.meta['variant'] !== undefined && block.meta['variant'] !== variant)) continue
    const path = join(cwd, rename[file] ?? file)
    await mkdir(dirname(path), { recursive: true })
    await writeFile(path, block.code)
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0)
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

interface App {
  port: number
  url: string
  stderr: () => string
  stop: () => Promise<void>
}

/** Starts `node <script>` in `cwd` as the README says, on a free port (its `PORT`). */
async function start(cwd: string, script: string): Promise<App> {
  const port = await freePort()
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), NODE_OPTIONS: '' }
  delete env['NODE_ENV']
  delete env['DEBUG']
  const child = spawn(process.execPath, [script], { cwd, env, stdio: 'pipe' })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk))
  child.stderr.on('data', (chunk: Buffer) => (err += chunk))
  const deadline = Date.now() + 20_000
  while (!out.includes(`listening on https://localhost:${port}/`)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${script} did not start: ${out}${err}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    port,
    url: `https://localhost:${port}/`,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
      children.delete(child)
    },
  }
}

/** The output the README shows after a command, each line a pattern: `[  0.020]` any time, `...` anything. */
function shownOutput(command: string): RegExp[] {
  const i = readme.findIndex((b) => b.lang === 'sh' && b.code.trim() === command)
  assert.ok(i >= 0, `the README shows \`${command}\``)
  const output = readme[i + 1]!
  assert.equal(output.lang, '', `the block after \`${command}\` is its output`)
  return output.code
    .trim()
    .split('\n')
    .map(
      (line) =>
        new RegExp(
          `^${line
            .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
            .replace(/^\\\[\s*[\d\\.]+\\\]/, '\\[\\s*[\\d.]+\\]')
            .replace(/\\\.\\\.\\\./g, '.*')}$`,
        ),
    )
}

/** What every app of the Quick start must do, checked with real clients. */
async function checkApp(cwd: string, app: App): Promise<void> {
  // A client that takes push (nghttp): /style.css promised before the page's HEADERS, and its body sent.
  const { frames } = await nghttp(app.url)
  const promise = frames.findIndex((f) => f.dir === 'recv' && f.type === 'PUSH_PROMISE' && f.headers?.[':path'] === '/style.css')
  assert.ok(promise >= 0, 'PUSH_PROMISE for /style.css')
  const page = frames.findIndex((f) => f.dir === 'recv' && f.type === 'HEADERS' && f.streamId === frames[promise]!.streamId)
  assert.ok(page > promise, 'the PUSH_PROMISE precedes the page HEADERS')
  assert.ok(
    frames.some((f) => f.dir === 'recv' && f.type === 'DATA' && f.streamId === frames[promise]!.promisedId && f.length > 0),
    'the pushed body',
  )

  // A client that refuses push (curl, as browsers): a 103 Early Hints with the Link, then the page.
  const { stderr: trace } = await run('curl', ['-k', '--http2', '-sv', '-o', '/dev/null', app.url], { timeout: 20_000 })
  assert.match(trace, /^< HTTP\/2 103\s*\n< link: <\/style\.css>; rel=preload; as=style\s*$/m)
  assert.ok(trace.indexOf('< HTTP/2 103') < trace.indexOf('< HTTP/2 200'), trace)

  // "See it work": the command from the installed package prints what the README shows.
  for (const shown of ['npx express-h2-push inspect https://localhost:8443/ -k', 'npx express-h2-push inspect https://localhost:8443/ -k --no-push']) {
    const [, ...args] = shown.replace('8443', String(app.port)).split(' ')
    const { stdout } = await run('npx', ['--no-install', ...args], { cwd, timeout: 30_000 })
    const lines = stdout.trim().split('\n')
    for (const pattern of shownOutput(shown))
      assert.ok(
        lines.some((l) => pattern.test(l)),
        `${shown}: no line matches ${pattern}\n${stdout}`,
      )
  }

  // The stylesheet a browser then requests is fresh: the 103 preload is reused, no stale-hint warning.
  const { stdout: headers } = await run('curl', ['-k', '--http2', '-sD', '-', '-o', '/dev/null', `${app.url}style.css`], { timeout: 20_000 })
  assert.match(headers, /^cache-control: public, max-age=3600\s*$/im)
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.doesNotMatch(app.stderr(), /not fresh/)
}

before(async () => {
  readme = blocks(await readFile(join(ROOT, 'README.md'), 'utf8'))
  const packDir = await mkdtemp(join(tmpdir(), 'h2push-readme-pack-'))
  folders.push(packDir)
  // --ignore-scripts: the build is npm test's first step; pack what dist/ holds.
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], { cwd: ROOT, maxBuffer: 16 << 20 })
  tarball = join(packDir, (JSON.parse(stdout) as Array<{ filename: string }>)[0]!.filename)
})

after(async () => {
  for (const child of children) child.kill('SIGKILL')
  for (const folder of folders) await rm(folder, { recursive: true, force: true })
})

describe('README manifest examples', () => {
  test('every manifest the README shows is valid, and the error it shows is the one a typo gets', () => {
    const manifests = readme.filter((b) => b.lang === 'json' && b.code.includes('"$schema"'))
    assert.ok(manifests.length >= 2)
    for (const block of manifests) compileManifest(JSON.parse(block.code), 'README.md', { maxEntriesPerRoute: 64 })
    const shown = readme.find((b) => b.lang === '' && b.code.startsWith('push manifest push-manifest.json at '))!.code.trim()
    assert.throws(
      () => compileManifest({ '/': { '/style.css': { tpye: 'style' } } }, 'push-manifest.json', { maxEntriesPerRoute: 64 }),
      (err: Error) => err.message.startsWith(shown.replace(/\.\.\.$/, '')),
    )
  })
})

describe('README quick start', () => {
  test('has the blocks this test runs: the files, a CommonJS app, an ES module app, a tsconfig', () => {
    const files = quickStart()
      .filter((b) => b.meta['file'])
      .map((b) => `${b.meta['file']}${b.meta['variant'] ? ` (${b.meta['variant']})` : ''}`)
    assert.deepEqual(files, ['public/style.css', 'push-manifest.json', 'app.js (cjs)', 'app.mjs (esm)', 'tsconfig.json (ts)'])
    assert.deepEqual(commands('Quick start'), ['npm init -y', 'npm install express-h2-push express helmet', 'mkdir public'])
    assert.deepEqual(commands('CommonJS'), ['node app.js'])
    assert.deepEqual(commands('ES modules and TypeScript'), [
      'node app.mjs',
      'npm pkg set type=module',
      'npm install -D typescript @types/express @types/node',
      'npx tsc && node app.js',
    ])
    // The two ES module forms are one code: app.mjs is also the app.ts the TypeScript steps compile.
    assert.match(quickStart().find((b) => b.meta['file'] === 'app.mjs')!.code, /await createServer\(app\)/)
  })

  test('CommonJS (npm init -y): app.js and app.mjs push, send a 103, and serve the stylesheet fresh', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'h2push-readme-cjs-'))
    folders.push(cwd)
    let installLog = ''
    for (const line of commands('Quick start')) installLog += await shell(line, cwd)
    assert.equal((JSON.parse(await readFile(join(cwd, 'package.json'), 'utf8')) as { type?: string }).type ?? 'commonjs', 'commonjs')
    assert.doesNotMatch(installLog, /EBADENGINE|ERR!/, installLog)
    await writeFiles(cwd, 'cjs')
    await writeFiles(cwd, 'esm')
    for (const script of ['app.js', 'app.mjs']) {
      const app = await start(cwd, script)
      try {
        await checkApp(cwd, app)
      } finally {
        await app.stop()
      }
    }
    // The check above can fail: the same app with express.static's default max-age=0 is warned about.
    const appJs = await readFile(join(cwd, 'app.js'), 'utf8')
    assert.ok(appJs.includes("express.static('public', { maxAge: '1h' })"))
    await writeFile(join(cwd, 'stale.js'), appJs.replace("express.static('public', { maxAge: '1h' })", "express.static('public')"))
    const stale = await start(cwd, 'stale.js')
    try {
      await run('curl', ['-k', '--http2', '-s', '-o', '/dev/null', stale.url, '-o', '/dev/null', `${stale.url}style.css`], { timeout: 20_000 })
      await new Promise((resolve) => setTimeout(resolve, 200))
      assert.match(stale.stderr(), /"\/style\.css" is sent as a 103 Early Hint .* is not fresh/)
    } finally {
      await stale.stop()
    }
  })

  test('TypeScript ("type": "module", app.ts, the README tsconfig): compiles with tsc and runs', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'h2push-readme-ts-'))
    folders.push(cwd)
    for (const line of commands('Quick start')) await shell(line, cwd)
    const [, setType, installTypes, compileAndRun] = commands('ES modules and TypeScript')
    await shell(setType!, cwd)
    await shell(installTypes!, cwd)
    await writeFiles(cwd, 'ts')
    await writeFiles(cwd, 'esm', { 'app.mjs': 'app.ts' })
    // `npx tsc && node app.js`
    assert.equal(compileAndRun, 'npx tsc && node app.js')
    await run('npx', ['--no-install', 'tsc'], { cwd, timeout: 120_000 })
    const app = await start(cwd, 'app.js')
    try {
      await checkApp(cwd, app)
    } finally {
      await app.stop()
    }
  })
})
