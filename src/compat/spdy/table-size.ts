/**
 * HPACK dynamic table size updates, as RFC 7541 §4.2 wants them.
 *
 * A client that sets SETTINGS_HEADER_TABLE_SIZE lower got no response on stock spdy: hpack.js's
 * compressor shrank its table below 4 096 without saying so in the next header block (it wrote a
 * size update only when the size was at or above its maximum), so the client's decoder, expecting
 * the update first, failed the block (nghttp2 answers with COMPRESSION_ERROR). And where it did
 * write one, it wrote one per change, at the moment of the change: several changes between two
 * responses (200 then 100, say) went out as several updates, the first above the smallest, which
 * nghttp2 rejects too. §4.2: "the smallest maximum table size that occurs in that interval MUST be
 * signaled in a dynamic table size update. The final maximum size is always signaled, resulting in
 * at most two dynamic table size updates", at the beginning of the next header block.
 *
 * So a change is now recorded on the compressor (`recordTableSize`: the smallest and the final
 * size since the last block, the table resized at once, as the decoder will resize it on reading
 * them) and written in front of the next block (`takeTableSizes`): by `updatesBeforeBlock`
 * on hpack.js's own path, by direct-hpack.ts on the direct one.
 *
 * A size of 0 was not applied at all: spdy-transport's `_handleSettings` tests
 * `if (settings.header_table_size)` (`applyZeroTableSize`).
 */

const pending = Symbol('express-h2-push.table-size-updates')

interface Compressor {
  _table: { protocolMaxSize: number; updateSize(size: number): void }
  push(chunk: Buffer): boolean
  [pending]?: { min: number; final: number } | undefined
}

/**
 * hpack.js's `Compressor#updateTableSize`, recording the change for the next block instead of
 * pushing an update now. Sizes above the compressor's own maximum (4 096) are taken as that
 * maximum, as hpack.js takes them: an encoder may use less than the peer allows.
 */
export function recordTableSize(this: Compressor, size: number): void {
  const table = this._table
  const bounded = Math.min(size, table.protocolMaxSize)
  const sizes = this[pending]
  if (sizes === undefined) this[pending] = { min: bounded, final: bounded }
  else {
    if (bounded < sizes.min) sizes.min = bounded
    sizes.final = bounded
  }
  // Resized at once: entries evicted at the smallest size stay evicted, as in the decoder that reads both updates.
  table.updateSize(bounded)
}

/** The sizes to signal in front of the next block, taken: the smallest since the last block if below the final, then the final; null if none changed. */
export function takeTableSizes(compressor: object): readonly number[] | null {
  const sizes = (compressor as Compressor)[pending]
  if (sizes === undefined) return null
  ;(compressor as Compressor)[pending] = undefined
  return sizes.min < sizes.final ? [sizes.min, sizes.final] : [sizes.final]
}

type Write = (this: Compressor, data: unknown, encoding: string, callback: (err?: Error | null) => void) => void

/**
 * Wraps hpack.js's `Compressor#_write` (its own encoder's path): the recorded updates go out first, in front of the
 * block, encoded by `encode` (direct-hpack.ts's `encodeSizeUpdates`).
 */
export function updatesBeforeBlock(write: Write, encode: (sizes: readonly number[]) => Buffer): Write {
  return function writeAfterSizeUpdates(this: Compressor, data, encoding, callback): void {
    const sizes = takeTableSizes(this)
    if (sizes !== null) this.push(encode(sizes))
    write.call(this, data, encoding, callback)
  }
}

/** What this reads of a connection: its compression pair (spdy-transport's `state.pair`, null before the version is known). */
type PairState = { pair?: { compress: { updateTableSize(size: number): void } } | null }

type HandleSettings<C> = (this: C, settings: Record<string, number | undefined>) => void

/** spdy-transport's `_handleSettings`, with a SETTINGS_HEADER_TABLE_SIZE of 0 applied as any other size is. */
export function applyZeroTableSize<C extends { _spdyState: object }>(handleSettings: HandleSettings<C>): HandleSettings<C> {
  return function handleSettingsWithZeroTableSize(this: C, settings): void {
    handleSettings.call(this, settings)
    if (settings['header_table_size'] === 0) (this._spdyState as PairState).pair?.compress.updateTableSize(0)
  }
}
