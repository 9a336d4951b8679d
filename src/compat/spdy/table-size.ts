/**
 * A smaller HPACK table, signalled.
 *
 * A client that sets SETTINGS_HEADER_TABLE_SIZE below 4 096 (64, say) got no response:
 * hpack.js's compressor shrank its dynamic table without saying so in the next header
 * block (it wrote the size update only when the size was at or above its maximum), so the
 * client's decoder, still at 4 096 and expecting the update first, failed the block (RFC 7541
 * §4.2: the change "MUST" be signalled at the start of the first header block after it;
 * nghttp2 answers with COMPRESSION_ERROR). Every change is now signalled: the update goes into
 * the compressor's output ahead of the next block's fields, as the at-maximum case already did.
 *
 * A size of 0 was not applied at all: spdy-transport's `_handleSettings` tests
 * `if (settings.header_table_size)`, so the compressor kept its table and the client, its decoder
 * at 0 and the update never sent, got no response again (`applyZeroTableSize`). And a change after
 * the connection's first response was lost on spdy-transport's own path (see direct-hpack.ts's
 * `pendingOutput`).
 */
interface Encoder {
  encodeBits(value: number, bits: number): void
  encodeInt(value: number): void
  render(): Buffer[]
}

interface Compressor {
  _table: { protocolMaxSize: number; updateSize(size: number): void }
  push(chunk: Buffer): boolean
}

type UpdateTableSize = (this: Compressor, size: number) => void

export function signalSmallerTables(updateTableSize: UpdateTableSize, createEncoder: () => Encoder): UpdateTableSize {
  return function updateTableSizeSignalled(this: Compressor, size): void {
    if (size >= this._table.protocolMaxSize) return updateTableSize.call(this, size)
    const encoder = createEncoder()
    // 001xxxxx: a dynamic table size update (RFC 7541 §6.3).
    encoder.encodeBits(1, 3)
    encoder.encodeInt(size)
    for (const chunk of encoder.render()) this.push(chunk)
    this._table.updateSize(size)
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
