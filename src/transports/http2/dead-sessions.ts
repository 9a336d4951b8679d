/**
 * Releases node:http2 server sessions that nghttp2 has ended by itself.
 *
 * When a peer commits a connection error that nghttp2 handles inside its own parser
 * (a header field over 64 KB once HPACK-encoded, for one: COMPRESSION_ERROR),
 * nghttp2 sends GOAWAY and from then on wants neither to read nor to write, so Node
 * stops reading the socket. Node 22 and later then report a session 'error' and
 * destroy the session. Node 20 reports nothing: no 'error', 'goaway' or 'frameError',
 * the socket is never read again (the peer's FIN goes unseen), and the session keeps
 * its TLS socket open until the server shuts down.
 *
 * The one trace of it: a stream nghttp2 began (`session.state.lastProcStreamID`) that
 * never reached JavaScript as a 'stream'. Once a second, each open session showing
 * that trace gets a PING; one that leaves it unanswered for two sweeps is destroyed.
 * A live peer answers (streams Node refuses natively, past `maxConcurrentStreams` or
 * `maxHeaderListPairs`, leave the same trace), and is not pinged again until nghttp2
 * begins another stream. The sweep timer is unref'd and runs only while sessions are open.
 * Not caught here: on Node 20, a connection error that begins no stream (DATA on
 * stream 0, say) leaves a session the same way.
 *
 * A second way a session outlives its peer: Node destroyed it (the peer's GOAWAY, say)
 * but waits for its final GOAWAY write to complete before it lets go of the socket, and
 * when the peer closed TCP while frames were still queued (seen when pushed streams were
 * reset just before), that wait never ends: no 'close', the socket stays open. A
 * destroyed session whose socket is still open two sweeps later gets its socket destroyed.
 */
import type { Http2SecureServer, Http2Session, ServerHttp2Stream } from 'node:http2'
import type { Socket } from 'node:net'
import createDebug from 'debug'

const debug = createDebug('express-h2-push:server')

/** How often open sessions are checked, in ms. */
const SWEEP_INTERVAL_MS = 1000
/** Sweeps a PING may stay unanswered before the session is destroyed. */
const PROBE_SWEEPS = 2

interface Watch {
  /** Highest stream id that reached JavaScript. */
  seen: number
  /** Highest `lastProcStreamID` a PING answer vouched for. */
  answered: number
  /** The unanswered PING, with the sweeps since it went out. */
  probe: { sweeps: number } | undefined
  /** The session's TLS socket (`session.socket` is a proxy that may not be destroyed). */
  socket: Socket | undefined
  /** Sweeps since the session was seen destroyed with its socket open. */
  lingering: number
}

/** Watches every session of `server` and destroys those nghttp2 has silently ended. */
export function releaseDeadSessions(server: Http2SecureServer): void {
  const watched = new Map<Http2Session, Watch>()
  let timer: NodeJS.Timeout | undefined

  const sweep = (): void => {
    for (const [session, watch] of watched) {
      if (session.destroyed) {
        if (watch.socket && !watch.socket.destroyed && ++watch.lingering >= PROBE_SWEEPS) {
          debug('session destroyed, its socket still open: socket destroyed')
          watch.socket.destroy()
        }
        if (watch.socket?.destroyed !== false) watched.delete(session)
        continue
      }
      // Closing sessions (shutdown, a peer's GOAWAY) are left to their own deadlines.
      if (session.closed) continue
      if (watch.probe) {
        if (++watch.probe.sweeps >= PROBE_SWEEPS) {
          debug('session unanswered after nghttp2 began stream %d unseen: destroyed', session.state.lastProcStreamID)
          session.destroy()
        }
        continue
      }
      const last = session.state.lastProcStreamID ?? 0
      if (last <= watch.seen || last <= watch.answered) continue
      const probe = { sweeps: 0 }
      const sent = session.ping((err) => {
        if (watch.probe !== probe) return
        watch.probe = undefined
        if (!err) watch.answered = last
      })
      // false: too many PINGs already out (maxOutstandingPings); try again next sweep.
      if (sent) watch.probe = probe
    }
    if (watched.size === 0 && timer !== undefined) {
      clearInterval(timer)
      timer = undefined
    }
  }

  // 'secureConnection' comes just before the session made from it ('session').
  let lastSocket: Socket | undefined
  server.prependListener('secureConnection', (socket: Socket) => {
    lastSocket = socket
  })
  server.on('session', (session: Http2Session) => {
    const watch: Watch = { seen: 0, answered: 0, probe: undefined, socket: lastSocket, lingering: 0 }
    lastSocket = undefined
    watched.set(session, watch)
    timer ??= setInterval(sweep, SWEEP_INTERVAL_MS).unref()
    session.on('stream', (stream: ServerHttp2Stream) => {
      if (stream.id !== undefined && stream.id > watch.seen) watch.seen = stream.id
    })
    const forget = (): void => {
      watched.delete(session)
      if (watched.size === 0 && timer !== undefined) {
        clearInterval(timer)
        timer = undefined
      }
    }
    session.once('close', forget)
    watch.socket?.once('close', () => {
      if (session.destroyed) forget()
    })
  })
}
