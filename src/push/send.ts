/**
 * Sends the pushed responses of one request once they may go: every HEADERS now, the
 * bodies one after another, most critical first.
 */
import { Readable } from 'node:stream'
import createDebug from 'debug'
import { respondInTurn, type PushOutcome, type PushStream } from '../transports/pusher.js'
import type { Reservation } from './connection-budget.js'
import type { PushableResponse } from './sources.js'
import type { PreparedEntry, Report } from './settings.js'

const debug = createDebug('express-h2-push:push')

/** A push promised and produced: ready to be sent. */
export interface Ready {
  readonly entry: PreparedEntry
  readonly reservation: Reservation
  readonly key: string
  readonly response: PushableResponse
  readonly stream: PushStream
}

/**
 * Sends the pushed responses: every HEADERS now, the bodies one after another in this order
 * (most critical first), each once the one before is handed to the transport, so that each
 * stylesheet arrives whole before the next one starts instead of all finishing last.
 */
export function sendPushes(ready: readonly Ready[], parent: string, report: Report, reservations: Set<Reservation>): void {
  let previous: Promise<void> | undefined
  for (const { entry, stream, response, reservation } of ready) {
    // Sending: held until the push's own stream closes, whatever the parent does.
    reservations.delete(reservation)
    debug('push %s for %s (stream %d, %d bytes)', entry.url, parent, stream.id, response.size)
    let body
    try {
      body = response.body()
    } catch (err) {
      response.release?.()
      stream.cancel()
      reservation.release()
      report({ type: 'cancelled', url: entry.url, parent, bytes: 0, reason: (err as Error).message })
      continue
    }
    let closed: Promise<PushOutcome>
    if (stream[respondInTurn]) {
      const sent = stream[respondInTurn](200, response.headers, body, previous)
      closed = sent.outcome
      previous = sent.written
    } else {
      closed = stream.respond(200, response.headers, body)
    }
    void closed.then((outcome) => {
      // A stream closed before its response (reset, client gone) never read the body: close its file.
      if (body instanceof Readable) body.destroy()
      reservation.release()
      report(
        outcome.status === 'sent'
          ? { type: 'pushed', url: entry.url, parent, bytes: outcome.bytes }
          : { type: 'cancelled', url: entry.url, parent, bytes: outcome.bytes, reason: outcome.reason ?? 'cancelled' },
      )
    })
  }
}
