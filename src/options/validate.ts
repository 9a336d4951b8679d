/**
 * Option checking done once, at construction: unknown keys (with a "did you mean"
 * hint) and wrongly typed values throw ERR_H2PUSH_INVALID_OPTION.
 */
import bytes from 'bytes'
import ms from 'ms'
import { H2PushError } from '../errors.js'

export type OptionType =
  | 'string'
  | 'boolean'
  | 'object'
  | 'boolean or object'
  | 'function'
  | 'pem'
  | 'non-negative number'
  | 'positive integer'
  | 'non-negative integer'
  | 'array'
  | 'path, URL or object'
  | readonly (string | boolean)[]
  | NumberRange
  | Measured

/**
 * A number of ms or bytes that may also be written as Express options take them: a
 * duration (`'30s'`, `'1h'`, read by the `ms` package) or a size (`'512kb'`, `'1mb'`,
 * read by the `bytes` package).
 */
export interface Measured {
  readonly number: 'positive integer' | 'non-negative integer' | 'non-negative number'
  readonly measure: 'duration' | 'size'
}

const MEASURE_EXAMPLES = { duration: '"30s", "1h"', size: '"512kb", "1mb"' } as const

function isMeasured(type: OptionType): type is Measured {
  return typeof type === 'object' && !Array.isArray(type) && 'measure' in type
}

/** The number an option's value stands for: a duration or size string read (`'1h'` → 3600000, `'1mb'` → 1048576); any other value as it is. */
export function measuredNumber(value: unknown, measure: Measured['measure']): unknown {
  if (typeof value !== 'string') return value
  const n = measure === 'duration' ? ms(value as ms.StringValue) : bytes.parse(value)
  return typeof n === 'number' && Number.isFinite(n) ? n : value
}

/** A number from `min` to `max` (an integer when `integer`), or `false` when `orFalse`. */
export interface NumberRange {
  readonly min: number
  readonly max: number
  readonly integer?: boolean
  readonly orFalse?: boolean
  /** How the value reads, for messages: `'ms'`. */
  readonly unit?: string
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1))
      previous = current
    }
  }
  return row[b.length]!
}

/** The known name closest to `name`, when one is close enough to be a typo. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const d = distance(name, candidate)
    if (d < bestDistance) {
      best = candidate
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined
}

function inRange(value: unknown, range: NumberRange): boolean {
  if (value === false) return range.orFalse === true
  return typeof value === 'number' && value >= range.min && value <= range.max && (!range.integer || Number.isInteger(value))
}

function matches(value: unknown, type: OptionType): boolean {
  if (Array.isArray(type)) return type.includes(value as string | boolean)
  if (isMeasured(type)) return matches(measuredNumber(value, type.measure), type.number)
  if (typeof type === 'object') return inRange(value, type as NumberRange)
  switch (type) {
    case 'string':
      return typeof value === 'string'
    case 'boolean':
      return typeof value === 'boolean'
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value)
    case 'pem':
      return typeof value === 'string' || Buffer.isBuffer(value)
    case 'boolean or object':
      return typeof value === 'boolean' || (typeof value === 'object' && value !== null && !Array.isArray(value))
    case 'function':
      return typeof value === 'function'
    case 'positive integer':
      return Number.isInteger(value) && (value as number) > 0
    case 'non-negative integer':
      return Number.isInteger(value) && (value as number) >= 0
    case 'non-negative number':
      return typeof value === 'number' && Number.isFinite(value) && value >= 0
    case 'array':
      return Array.isArray(value)
    case 'path, URL or object':
      return typeof value === 'string' || value instanceof URL || (typeof value === 'object' && value !== null && !Array.isArray(value))
    default:
      return false
  }
}

function describe(type: OptionType): string {
  if (isMeasured(type)) return describe(type.number)
  if (!Array.isArray(type) && typeof type === 'object') {
    const range = type as NumberRange
    const what = `${range.integer ? 'an integer' : 'a number'}${range.unit ? ` (${range.unit})` : ''} from ${range.min} to ${range.max}`
    return range.orFalse ? `${what}, or false` : what
  }
  if (typeof type !== 'string') return `one of ${(type as readonly string[]).map((t) => JSON.stringify(t)).join(', ')}`
  const name = type === 'pem' ? 'PEM string or Buffer' : type
  return `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name}`
}

export function validateOptions(where: string, options: unknown, types: Readonly<Record<string, OptionType>>): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new H2PushError('ERR_H2PUSH_INVALID_OPTION', `${where}: options must be an object, got ${JSON.stringify(options)}`)
  }
  const known = Object.keys(types)
  for (const [key, value] of Object.entries(options)) {
    const type = types[key]
    if (type === undefined) {
      const hint = closest(key, known)
      throw new H2PushError(
        'ERR_H2PUSH_INVALID_OPTION',
        `${where}: unknown option ${JSON.stringify(key)}.${hint ? ` Did you mean \`${hint}\`?` : ''} Known options: ${known.join(', ')}`,
      )
    }
    if (value !== undefined && !matches(value, type)) {
      throw new H2PushError(
        'ERR_H2PUSH_INVALID_OPTION',
        `${where}: option \`${key}\` must be ${describe(type)}, got ${typeof value === 'object' ? 'an object' : typeof value === 'number' ? String(value) : JSON.stringify(value)}` +
          (isMeasured(type) ? ` (or a ${type.measure} string: ${MEASURE_EXAMPLES[type.measure]})` : ''),
      )
    }
  }
}
