/**
 * One request's push: the request and response, the middleware's engine (settings,
 * connection budgets, report), and the hints gathered for what is not pushed. Every
 * path reports its skips through it, so each skip is logged, counted and hinted alike.
 */
import type { Request, Response } from 'express'
import createDebug from 'debug'
import type { Skip } from './decide.js'
import type { PreparedEntry, PushEngine, PushSettings, Report } from './settings.js'

const debug = createDebug('express-h2-push:push')

export class RequestPush {
  /** The page's path, as events name it. */
  readonly parent: string
  /**
   * Link values of what is not pushed and still hinted (for the 103 and the Link header),
   * in entry order; undefined on a path that sends no hints of its own.
   */
  readonly hints: string[] | undefined

  constructor(
    readonly req: Request,
    readonly res: Response,
    readonly engine: PushEngine,
    options: { readonly hints: boolean; readonly hintOf?: (entry: PreparedEntry) => string },
  ) {
    this.parent = req.path
    this.hints = options.hints ? [] : undefined
    if (options.hintOf) this.#hintOf = options.hintOf
  }

  readonly #hintOf: (entry: PreparedEntry) => string = (entry) => entry.link

  get settings(): PushSettings {
    return this.engine.settings
  }

  get report(): Report {
    return this.engine.report
  }

  /** Reports a skip (debug log and event) and hints the entry when the skip says so. */
  skip(entry: PreparedEntry, skip: Skip): void {
    const { reason, detail } = skip
    debug('skip %s for %s: %s%s', entry.url, this.parent, reason, detail ? ` (${detail})` : '')
    this.engine.report(
      detail === undefined
        ? { type: 'skipped', url: entry.url, parent: this.parent, reason }
        : { type: 'skipped', url: entry.url, parent: this.parent, reason, detail },
    )
    if (skip.hint) this.hints?.push(this.#hintOf(entry))
  }
}
