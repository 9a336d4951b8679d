/**
 * The push decisions without sockets: what each entry of a request becomes before
 * anything is produced, and whether a produced response may still be pushed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConnectionBudget } from '../src/push/connection-budget.js'
import { decideEntries, edgeRefusalOf, entrySkip, pushableParentStatus, refusalOf, SKIP, type RequestFacts } from '../src/push/decide.js'

const LIMITS = { maxPushesPerResponse: 2, maxPushesPerConnection: 3, maxPushBytesPerConnection: 100, diarySize: 16 }
const GET: RequestFacts = { method: 'GET', path: '/page', originalUrl: '/page?x=1', headers: {} }
const entry = (url: string, more: { nopush?: boolean; dotfile?: boolean } = {}) => ({ url, nopush: false, dotfile: false, ...more })

function outcome(decisions: ReturnType<typeof decideEntries>): string[] {
  return decisions.map((d) => ('push' in d ? `${d.entry.url} push` : `${d.entry.url} ${d.skip.reason}${d.skip.hint ? ' +hint' : ''}`))
}

test('before anything is produced: dotfile, nopush, same URL, per-response limit, push', () => {
  const budget = new ConnectionBudget(LIMITS)
  const decisions = decideEntries(
    GET,
    [entry('/.env', { dotfile: true }), entry('/a.css', { nopush: true }), entry('/page'), entry('/b.css'), entry('/c.js'), entry('/d.js')],
    LIMITS,
    budget,
  )
  assert.deepEqual(outcome(decisions), ['/.env dotfile', '/a.css nopush +hint', '/page same-url', '/b.css push', '/c.js push', '/d.js limit +hint'])
  assert.equal(budget.streams, 2, 'two streams reserved')
})

test('no push possible (HTTP/1.1, push refused): every entry hinted; HEAD says method', () => {
  assert.deepEqual(outcome(decideEntries(GET, [entry('/a.css')], LIMITS, undefined)), ['/a.css push-unsupported +hint'])
  assert.deepEqual(outcome(decideEntries({ ...GET, method: 'HEAD' }, [entry('/a.css')], LIMITS, undefined)), ['/a.css method +hint'])
})

test('a conditional request pushes nothing and keeps its hints', () => {
  const budget = new ConnectionBudget(LIMITS)
  for (const headers of [{ 'if-none-match': '"x"' }, { 'if-modified-since': 'Tue, 01 Dec 2026 00:00:00 GMT' }]) {
    assert.deepEqual(outcome(decideEntries({ ...GET, headers }, [entry('/a.css')], LIMITS, budget)), ['/a.css conditional +hint'])
  }
  assert.equal(budget.streams, 0)
})

test('the connection: a URL in flight is not pushed again (no hint: it is coming), and pushes in flight are capped', () => {
  const budget = new ConnectionBudget(LIMITS)
  const first = decideEntries(GET, [entry('/a.css'), entry('/b.css')], LIMITS, budget)
  assert.deepEqual(outcome(first), ['/a.css push', '/b.css push'])
  assert.deepEqual(outcome(decideEntries(GET, [entry('/a.css'), entry('/c.css'), entry('/d.css')], LIMITS, budget)), [
    '/a.css cached',
    '/c.css push',
    '/d.css limit +hint',
  ])
  // Released: the URL and the stream are free again.
  for (const d of first) if ('push' in d) d.push.release()
  assert.deepEqual(outcome(decideEntries(GET, [entry('/a.css')], LIMITS, budget)), ['/a.css push'])
})

test('once produced: diary, digest, bytes for the response, bytes on the connection, else pushed (bytes claimed)', () => {
  const budget = new ConnectionBudget(LIMITS)
  budget.diary.add('/a.css seen')
  const reservation = budget.reserve('/x') as Exclude<ReturnType<ConnectionBudget['reserve']>, string>
  const context = { budget, digestHas: (k: string) => k === '/b.css digest', bytesLeft: 60, reservation, maxPushBytesPerConnection: 100 }
  assert.equal(refusalOf('/a.css seen', 10, context)?.detail, 'pushed before on this connection')
  assert.equal(refusalOf('/b.css digest', 10, context)?.detail, 'listed in the cache digest cookie')
  assert.equal(refusalOf('/c.css', 61, context)?.reason, 'bytes')
  assert.equal(refusalOf('/c.css', 60, context), undefined)
  assert.equal(budget.bytes, 60)
  const other = budget.reserve('/y') as Exclude<ReturnType<ConnectionBudget['reserve']>, string>
  assert.match(refusalOf('/d.css', 50, { ...context, reservation: other })?.detail ?? '', /40 left on this connection/)
})

test('the entry rules every path shares, in one order: dotfile, nopush, cannot push (a missing file not even hinted), same URL, conditional', () => {
  const can = { push: true, conditional: false }
  const reason = (e: ReturnType<typeof entry> & { missing?: boolean }, c = can, req = GET) => {
    const skip = entrySkip(e, req, c)
    return skip && `${skip.reason}${skip.hint ? ' +hint' : ''}`
  }
  assert.equal(reason(entry('/.env', { dotfile: true, nopush: true })), 'dotfile')
  assert.equal(reason(entry('/a.css', { nopush: true }), { push: false, conditional: true }), 'nopush +hint')
  assert.equal(reason(entry('/page'), { push: false, conditional: false }), 'push-unsupported +hint')
  assert.equal(reason({ ...entry('/gone.css'), missing: true }, { push: false, conditional: false }), 'not-found')
  assert.equal(reason({ ...entry('/gone.css'), missing: true }), undefined, 'where it can be pushed, the app is asked as before')
  assert.equal(reason(entry('/page')), 'same-url')
  assert.equal(reason(entry('/page?x=1')), 'same-url')
  assert.equal(reason(entry('/a.css'), { push: true, conditional: true }), 'conditional +hint')
  assert.equal(reason(entry('/a.css')), undefined)
})

test('behind a proxy, once produced: digest, then the per-response count, then bytes', () => {
  const context = { digestHas: (k: string) => k === 'in-digest', asked: 0, maxPushesPerResponse: 2, bytesLeft: 50 }
  assert.equal(edgeRefusalOf('in-digest', 1, { ...context, asked: 5 }), SKIP.inDigest)
  assert.equal(edgeRefusalOf('k', 1, { ...context, asked: 2 })?.detail, 'maxPushesPerResponse 2')
  assert.equal(edgeRefusalOf('k', 51, context)?.detail, '51 bytes, 50 left for this response')
  assert.equal(edgeRefusalOf('k', 50, context), undefined)
  assert.equal(edgeRefusalOf('in-digest', 1, { ...context, digestHas: undefined }), undefined, 'a hard reload ignores the digest')
})

test('pushes go with a success only: not an error, not a 304', () => {
  assert.deepEqual([200, 204, 301, 304, 399, 400, 404, 500].map(pushableParentStatus), [true, true, true, false, true, false, false, false])
})
