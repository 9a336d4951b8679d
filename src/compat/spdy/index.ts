/**
 * The spdy compatibility layer: makes spdy 4.0.2 correct on Node 20, 22, 24 and 26.
 * Every fix is a runtime patch of spdy's own prototypes and exports (nothing in
 * node_modules is edited); each lives in the module named after what it fixes.
 */
import { loadSpdy } from './load.js'
import { emitEmpty, nextChunk, take } from './buffers.js'
import { spdyEnd, spdyWriteEarlyHints, spdyWriteHead } from './response.js'
import { socketFinal, socketWrite, socketWritev, releaseParserAfterEmit } from './socket.js'
import { goaway, ignoreFramesForClosedStreams, keepPushSetting, releaseFailedPushes, removeStreamOnce } from './connection.js'
import { dropQueuedDataOnAbort, releaseResetStreams, tagWaitingData } from './reset-streams.js'
import { promiseThenRespond, recordPeerStreamLimit, reportEndStreamWritten, respondWithinStreamLimit } from './push-concurrency.js'
import { startHttp2AtOnce } from './settings-at-once.js'
import { installStreamLimit } from './stream-limit.js'
import { emptyDataSkipsWindow } from './empty-data.js'
import { cutDataAtTheWindow, installWholeFrameFlowControl } from './flow-control.js'
import { installLightStreamWindows } from './light-windows.js'
import { installLightPriority } from './light-priority.js'
import { installOneBufferFrames, oneFrameData } from './one-buffer-frames.js'
import { installParseSteps } from './parse-steps.js'
import { installEndWithData } from './end-with-data.js'
import { agentCreateStream } from './agent.js'
import { scheduleFramesWhole, wholeFramesPerRecordOnTls } from './record-size.js'
import { streamWritesOnEverySocket } from './plain-socket.js'
import { batchWritesOnSpdyConnections } from './batched-writes.js'
import { compressHeaderObjectsDirectly, compressHeadersDirectly, directOnServers, encodeSizeUpdates, type HpackModule } from './direct-hpack.js'
import { markBodyOnRequest } from './request.js'
import { type HpackTableModule, installIndexedLookup } from './hpack-index.js'
import { closeStreamsOpenedAfterClose } from './late-requests.js'
import { countPendingPromises, respondAfterPromises } from './promises-first.js'
import { deferStreamsPastTheirRead } from './deferred-streams.js'
import { directRequests, emitDirectAsIs } from './direct-requests.js'
import { installHeldStreams } from './held-streams.js'
import { applyZeroTableSize, recordTableSize, updatesBeforeBlock } from './table-size.js'
import { endWithTrailers, flushTrailersBeforeWrite, holdTrailers } from './trailers.js'
import { type GuardedModules, installProtocolGuard } from './guarded-connection.js'
import type { SpdyModule, SpdyTransportModule } from './internals.js'
import { HpackBlockDecoder, type HuffmanCodes } from './hpack-decode.js'

const installed = Symbol.for('express-h2-push.spdy-compat')

/** The parts of spdy-transport and hpack.js the protocol guard patches. */
function guardedModules(transport: unknown, hpack: { huffman: { encode: HuffmanCodes } }): GuardedModules {
  const protocol = (transport as { protocol: Record<string, Record<string, unknown>> }).protocol
  const http2 = protocol['http2'] as { parser: { create(options: object): object }; constants: GuardedModules['constants'] }
  const base = protocol['base'] as { utils: { addHeaderLine: GuardedModules['addHeaderLine'] } }
  return {
    Connection: (transport as { Connection: GuardedModules['Connection'] }).Connection,
    parserProto: Object.getPrototypeOf(http2.parser.create({ isServer: true })) as Record<string, unknown>,
    hpackDecoder: new HpackBlockDecoder(hpack.huffman.encode),
    constants: http2.constants,
    addHeaderLine: base.utils.addHeaderLine,
  }
}

/** spdy's server: HTTP/2 streams become requests directly, a turn after their read; frames batched per record and per turn. */
function installServerPath(spdy: SpdyModule): void {
  const serverProto = spdy.server.Server.prototype
  const direct = directRequests(serverProto['_onStream'] as Parameters<typeof directRequests>[0], {
    forwardedFor: false,
    push: spdy.response['push'] as Parameters<typeof directRequests>[1]['push'],
    writeHead: spdyWriteHead as never,
    end: spdyEnd as never,
    writeEarlyHints: spdyWriteEarlyHints,
  })
  serverProto['_onStream'] = deferStreamsPastTheirRead(direct as Parameters<typeof deferStreamsPastTheirRead>[0])
  serverProto['emit'] = emitDirectAsIs(serverProto['emit'] as Parameters<typeof emitDirectAsIs>[0])
  serverProto['_handleConnection'] = wholeFramesPerRecordOnTls(serverProto['_handleConnection'] as Parameters<typeof wholeFramesPerRecordOnTls>[0])
  serverProto['_handleConnection'] = batchWritesOnSpdyConnections(serverProto['_handleConnection'] as Parameters<typeof batchWritesOnSpdyConnections>[0])
}

/** spdy-transport's HTTP/2 framer and header compression: frames whole and in one Buffer, DATA within the windows, header blocks encoded directly on servers. */
function installFramerPaths(transport: SpdyTransportModule, hpack: HpackModule, spdyDebug: (namespace: string) => (...args: unknown[]) => void): void {
  // HTTP/2 only: SPDY/3's framer still writes into a frame's chunks after scheduling it.
  const http2FramerProto = transport.protocol.http2.framer.prototype as unknown as Record<string, unknown>
  http2FramerProto['schedule'] = scheduleFramesWhole(transport.protocol.base.Scheduler.prototype['schedule'] as Parameters<typeof scheduleFramesWhole>[0])

  installParseSteps((transport.protocol.base as unknown as { Parser: { prototype: Record<string, unknown> } }).Parser.prototype)

  const framerProto = transport.protocol.http2.framer.prototype
  const endStream = (transport.protocol.http2 as unknown as { constants: { flags: { END_STREAM: number } } }).constants.flags.END_STREAM
  framerProto.dataFrame = emptyDataSkipsWindow(cutDataAtTheWindow(reportEndStreamWritten(oneFrameData(framerProto.dataFrame as never, endStream) as never)))
  installOneBufferFrames(transport, spdyDebug('spdy:framer'))
  framerProto._frame = tagWaitingData(framerProto._frame)

  const connProto = transport.Connection.prototype
  const lockProto = (transport as unknown as { utils: { LockStream: { prototype: Record<string, unknown> } } }).utils.LockStream.prototype
  connProto['_onVersion'] = directOnServers(connProto['_onVersion'] as Parameters<typeof directOnServers>[0])
  lockProto['write'] = compressHeadersDirectly(lockProto['write'] as Parameters<typeof compressHeadersDirectly>[0], hpack)
  installIndexedLookup(hpack as unknown as HpackTableModule)
  http2FramerProto['_compressHeaders'] = compressHeaderObjectsDirectly(
    http2FramerProto['_compressHeaders'] as Parameters<typeof compressHeaderObjectsDirectly>[0],
    hpack,
  )
}

/**
 * Loads `spdy` (on Node 24+ it cannot load without this) and patches it so that it
 * works on current Node. Idempotent: every call returns the same, patched module.
 *
 * `createServer` calls it for you; call it yourself when you create spdy servers
 * directly, and use the module it returns (a plain `import spdy from 'spdy'` is
 * evaluated before any of your code runs, and throws on Node 24+).
 *
 * @example
 * ```ts
 * import { installSpdyCompat } from 'express-h2-push'
 * const spdy = installSpdyCompat()
 * const server = spdy.createServer({ key, cert }, app)
 * ```
 */
export function installSpdyCompat(): SpdyModule {
  const { spdy, transport, legacyBuffers, hpack, debug: spdyDebug } = loadSpdy()
  const marked = spdy as SpdyModule & { [installed]?: true }
  if (marked[installed]) return spdy

  spdy.response['writeHead'] = spdyWriteHead
  spdy.response['end'] = spdyEnd

  const socketProto = spdy.Socket.prototype
  socketProto['_write'] = socketWrite
  socketProto['_writev'] = socketWritev
  socketProto['_final'] = socketFinal

  const handleProto = spdy.handle.prototype
  handleProto.emitRequest = releaseParserAfterEmit(handleProto.emitRequest)
  handleProto._closeCallback = releaseResetStreams(handleProto._closeCallback)
  handleProto.assignSocket = streamWritesOnEverySocket(handleProto.assignSocket)
  handleProto.assignRequest = markBodyOnRequest(handleProto.assignRequest)
  const assignResponse = handleProto['assignResponse'] as (this: unknown, res: Record<string, unknown>) => void
  handleProto['assignResponse'] = function assignResponseWithEarlyHints(this: unknown, res: Record<string, unknown>): void {
    assignResponse.call(this, res)
    res['writeEarlyHints'] = spdyWriteEarlyHints
  }

  installServerPath(spdy)

  spdy.agent.Agent.prototype['_createStream'] = agentCreateStream
  spdy.agent.PlainAgent.prototype['_createStream'] = agentCreateStream

  const connProto = transport.Connection.prototype
  connProto['_createStream'] = closeStreamsOpenedAfterClose(connProto['_createStream'] as Parameters<typeof closeStreamsOpenedAfterClose>[0])
  connProto._handleFrame = ignoreFramesForClosedStreams(connProto._handleFrame)
  connProto._handleSettings = recordPeerStreamLimit(keepPushSetting(applyZeroTableSize(connProto._handleSettings)))
  connProto._removeStream = removeStreamOnce(connProto._removeStream)
  connProto._goaway = goaway
  connProto['pushPromise'] = releaseFailedPushes(connProto['pushPromise'] as Parameters<typeof releaseFailedPushes>[0])

  installStreamLimit(transport)
  installProtocolGuard(guardedModules(transport, hpack))
  // Last: the connection starts (and writes its SETTINGS) once the wrappers above have made it.
  const Connection = transport.Connection as unknown as { create: Parameters<typeof startHttp2AtOnce>[0] }
  Connection.create = startHttp2AtOnce(Connection.create)
  hpack.compressor.prototype['updateTableSize'] = recordTableSize
  hpack.compressor.prototype['_write'] = updatesBeforeBlock(hpack.compressor.prototype['_write'] as Parameters<typeof updatesBeforeBlock>[0], encodeSizeUpdates)
  installLightPriority(transport)
  installWholeFrameFlowControl(transport)
  installLightStreamWindows(transport)
  installHeldStreams(transport)

  const streamProto = transport.Stream.prototype
  streamProto.respond = respondAfterPromises(respondWithinStreamLimit(streamProto.respond))
  streamProto.pushPromise = countPendingPromises(streamProto.pushPromise)
  streamProto.abort = dropQueuedDataOnAbort(streamProto.abort)
  streamProto['sendHeaders'] = holdTrailers(streamProto['sendHeaders'] as Parameters<typeof holdTrailers>[0])
  streamProto['_write'] = flushTrailersBeforeWrite(streamProto['_write'] as Parameters<typeof flushTrailersBeforeWrite>[0])
  streamProto['_onFinish'] = endWithTrailers(streamProto['_onFinish'] as Parameters<typeof endWithTrailers>[0])
  installEndWithData(transport)
  streamProto['_sendPush'] = promiseThenRespond(streamProto['_sendPush'] as Parameters<typeof promiseThenRespond>[0])

  installFramerPaths(transport, hpack as unknown as HpackModule, spdyDebug)

  const { WriteBuffer, OffsetBuffer, Deceiver } = legacyBuffers
  WriteBuffer.prototype['_next'] = nextChunk
  OffsetBuffer.prototype.take = take
  Deceiver.prototype['_emitEmpty'] = emitEmpty

  marked[installed] = true
  return spdy
}
