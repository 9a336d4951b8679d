/**
 * `srcset` and `imagesrcset`: the candidates, parsed as the HTML standard's "parse a srcset
 * attribute" does, and the one candidate worth pushing. A push manifest is the same for every
 * client, so only a choice that does not depend on the viewport is made.
 */

export interface Candidate {
  url: string
  /** `2x` → 2. No descriptor is 1x. */
  density?: number
  /** `640w` → 640. */
  width?: number
}

const SPACE = /[\t\n\f\r ]/

/** The candidates of a `srcset` value, in order; candidates with bad descriptors are dropped (as browsers do). */
export function parseSrcset(value: string): Candidate[] {
  const candidates: Candidate[] = []
  let i = 0
  while (i < value.length) {
    while (i < value.length && (SPACE.test(value[i]!) || value[i] === ',')) i++
    if (i >= value.length) break
    let end = i
    while (end < value.length && !SPACE.test(value[end]!)) end++
    let url = value.slice(i, end)
    i = end
    const descriptors: string[] = []
    if (url.endsWith(',')) {
      url = url.replace(/,+$/, '')
    } else {
      let token = ''
      let inParens = false
      for (; i < value.length; i++) {
        const c = value[i]!
        if (inParens) {
          token += c
          if (c === ')') inParens = false
        } else if (c === ',') {
          i++
          break
        } else if (SPACE.test(c)) {
          if (token) descriptors.push(token)
          token = ''
        } else {
          if (c === '(') inParens = true
          token += c
        }
      }
      if (token) descriptors.push(token)
    }
    const candidate = withDescriptors(url, descriptors)
    if (candidate) candidates.push(candidate)
  }
  return candidates
}

function withDescriptors(url: string, descriptors: string[]): Candidate | undefined {
  const candidate: Candidate = { url }
  for (const d of descriptors) {
    const m = /^(\d+(?:\.\d+)?|\.\d+)([wxh])$/i.exec(d)
    if (!m) return undefined
    const n = Number(m[1])
    const unit = m[2]!.toLowerCase()
    if (unit === 'x') {
      if (candidate.density !== undefined || candidate.width !== undefined || n < 0) return undefined
      candidate.density = n
    } else if (unit === 'w') {
      if (candidate.density !== undefined || candidate.width !== undefined || !Number.isInteger(n) || n <= 0) return undefined
      candidate.width = n
    }
    // `h` is reserved and ignored.
  }
  return candidate
}

/**
 * The candidate to push from `srcset` (with the element's `src`/`href` as the default 1x candidate,
 * as browsers add it): the one a 1x display takes, the smallest density of at least 1 (or the
 * largest there is). With width descriptors the browser picks by viewport width and `sizes`, which
 * one manifest for every client cannot know: nothing is chosen and the reason is returned.
 */
export function pickCandidate(srcset: string, fallback: string | undefined): { url: string; skipped: string[] } | { reason: string } {
  const candidates = parseSrcset(srcset)
  if (candidates.some((c) => c.width !== undefined)) {
    return { reason: 'width descriptors: the browser picks by viewport width, which differs between clients; list the one to push by hand' }
  }
  const densities = candidates.map((c) => ({ url: c.url, density: c.density ?? 1 }))
  if (fallback && !densities.some((c) => c.density === 1)) densities.push({ url: fallback, density: 1 })
  if (densities.length === 0) return { reason: 'no valid candidate' }
  const atLeastOne = densities.filter((c) => c.density >= 1).sort((a, b) => a.density - b.density)
  const chosen = atLeastOne[0] ?? densities.sort((a, b) => b.density - a.density)[0]!
  return { url: chosen.url, skipped: densities.filter((c) => c !== chosen).map((c) => `${c.url} ${c.density}x`) }
}
