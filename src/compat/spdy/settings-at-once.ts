/**
 * The server's connection preface when the connection starts, as nghttp2 and Go's net/http send it.
 *
 * spdy's `Server#_handleConnection` means to start an HTTP/2 connection as soon as it is chosen
 * (`if (protocol === 'http2') connection.start(4)`), but ALPN, and its own plain server's preface
 * check, name HTTP/2 `h2`: the test never matches. So spdy-transport set the version only when the
 * client's preface arrived, and only then wrote the server's preface (its SETTINGS frame and the
 * connection's WINDOW_UPDATE). nghttp2 (node:http2) and Go's net/http write theirs when the
 * connection starts; RFC 9113 §3.4 does not make the server wait, and a client that holds its
 * requests until it has the server's SETTINGS (its stream limit, push) gets them sooner: on a TLS 1.2
 * handshake, behind the server's Finished, a round trip before the client's preface could bring them.
 * Now they go with the connection's first batch of writes (batched-writes.ts). On the lab's page
 * loads (TLS 1.3) that is a packet of its own on most connections, where they shared one with the
 * SETTINGS ACK: see bench/README.md, Page loads, "Fifth round".
 *
 * The client's preface is still checked when it arrives (the parser stays in its `preface` state).
 */
type Create = (socket: unknown, options: Record<string, unknown>) => { _spdyState: object; start(version: number): void }

interface StartState {
  isServer: boolean
  protocol: { name: string }
  version?: number | null
}

/** Wraps spdy-transport's `Connection.create`: a server's HTTP/2 connection starts (version 4) when it is made. */
export function startHttp2AtOnce(create: Create): Create {
  return function createStarted(this: unknown, socket, options) {
    const connection = create.call(this, socket, options)
    const state = connection._spdyState as StartState
    if (state.isServer && state.protocol.name === 'h2' && !state.version) {
      connection.start(4)
    }
    return connection
  }
}
