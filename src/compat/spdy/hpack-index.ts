/**
 * HPACK's reverse lookup by index, not by search.
 *
 * Every field of every response header block is looked up in the encoder's tables
 * (hpack.js `Table#reverseLookup`): the static table through a plain object keyed by name
 * and, per name, an object keyed by value; then the dynamic table by a linear search from
 * its newest entry (up to 32 of them). In the CPU profile of Express on spdy (`GET /crt`,
 * helmet's 12 headers and four of Express's, h2load -c 20 -m 10) the lookup was 1.1 % of the
 * server's busy time, and in a microbenchmark of one such block 530 of its 2 300 ns.
 *
 * Here the static table is read through Maps made once, and each encoder's dynamic table
 * keeps, per name, where its newest entry with that name is. That is all the search needs:
 * hpack.js's search stops at the newest entry with the name, a full match if its value is
 * the same, a name match otherwise (the static table's, when it has the name). Entries leave
 * the dynamic table oldest first, so the newest entry with a name leaves last of those with
 * it. The answers are hpack.js's own but for one fix: its static table is a plain object,
 * so a name or value that is a property of `Object.prototype` was found in it, and the
 * "index" it answered (NaN, a function) was written as bits of a field: a response header
 * `constructor: y` arrived as `etag: y`, and `content-type: toString` as a block Node's client rejects (PROTOCOL_ERROR).
 * Maps have no inherited keys: here such a name or value is one the static table does not
 * hold, found in the dynamic table or sent as a literal, as RFC 7541 has it.
 *
 * A table gets its index at its first lookup (a compressor's: decompressors never look up),
 * built from the entries it already has; `add` and `evict` keep it from then on.
 */

interface Entry {
  name: string
  value: string
  totalSize: number
}

/** hpack.js's `Table`, the parts this module reads and patches. */
export interface HpackTableInternals {
  dynamic: Entry[]
  size: number
  maxSize: number
  length: number
  lookupDepth: number
  reverseLookup(name: string, value: string): number
  add(name: string, value: string, nameSize: number, valueSize: number): void
  evict(): void
}

interface StaticEntry {
  index: number
  values: Record<string, number>
}

export interface HpackTableModule {
  table: { prototype: HpackTableInternals }
  'static-table': { map: Record<string, StaticEntry> }
}

const INDEX = Symbol('express-h2-push.hpack-index')

/** Where, per name, the newest dynamic entry with that name is: its sequence number (how many entries were added before it). */
interface NameIndex {
  newest: Map<string, number>
  /** How many entries have left the table: `dynamic[i]` has sequence number `evicted + i`. */
  evicted: number
}

type Indexed = HpackTableInternals & { [INDEX]?: NameIndex }

/** A static name's index and its values' indexes. */
interface StaticName {
  index: number
  values: Map<string, number>
}

function staticNames(map: Record<string, StaticEntry>): Map<string, StaticName> {
  const names = new Map<string, StaticName>()
  for (const name of Object.keys(map)) {
    const entry = map[name]!
    names.set(name, { index: entry.index, values: new Map(Object.entries(entry.values)) })
  }
  return names
}

function indexOf(table: Indexed): NameIndex {
  let index = table[INDEX]
  if (index !== undefined) return index
  index = { newest: new Map(), evicted: 0 }
  const dynamic = table.dynamic
  for (let i = 0; i < dynamic.length; i++) index.newest.set(dynamic[i]!.name, i)
  table[INDEX] = index
  return index
}

export interface IndexedLookup {
  /** hpack.js's own `reverseLookup`, `add` and `evict`, for comparison. */
  original: Pick<HpackTableInternals, 'reverseLookup' | 'add' | 'evict'>
}

const installed = new WeakMap<object, IndexedLookup>()

/** Makes hpack.js's tables look fields up by index (idempotent per module). */
export function installIndexedLookup(hpack: HpackTableModule): IndexedLookup {
  const proto = hpack.table.prototype as Indexed
  const done = installed.get(proto)
  if (done) return done
  const original = { reverseLookup: proto.reverseLookup, add: proto.add, evict: proto.evict }
  const statics = staticNames(hpack['static-table'].map)

  proto.reverseLookup = function indexedReverseLookup(this: Indexed, name: string, value: string): number {
    const known = statics.get(name)
    if (known !== undefined) {
      const exact = known.values.get(value)
      if (exact !== undefined) return exact
    }
    const index = indexOf(this)
    const seq = index.newest.get(name)
    if (seq !== undefined) {
      const dynamic = this.dynamic
      const i = seq - index.evicted
      // hpack.js searches the newest `lookupDepth` entries only.
      if (i >= dynamic.length - this.lookupDepth) {
        if (dynamic[i]!.value === value) return this.length - i
        if (known === undefined) return -(this.length - i)
      }
    }
    return known === undefined ? 0 : -known.index
  }

  proto.add = function indexedAdd(this: Indexed, name: string, value: string, nameSize: number, valueSize: number): void {
    const index = this[INDEX]
    // Noted before hpack.js adds it: an entry larger than the table leaves at once, through evict.
    if (index !== undefined) index.newest.set(name, index.evicted + this.dynamic.length)
    original.add.call(this, name, value, nameSize, valueSize)
  }

  proto.evict = function indexedEvict(this: Indexed): void {
    const index = this[INDEX]
    if (index !== undefined) {
      // The entries hpack.js's evict is about to shift out, oldest first.
      const dynamic = this.dynamic
      let size = this.size
      let leaving = 0
      while (size > this.maxSize && leaving < dynamic.length) size -= dynamic[leaving++]!.totalSize
      for (let j = 0; j < leaving; j++) {
        const name = dynamic[j]!.name
        if (index.newest.get(name) === index.evicted + j) index.newest.delete(name)
      }
      index.evicted += leaving
    }
    original.evict.call(this)
  }

  const result = { original }
  installed.set(proto, result)
  return result
}
