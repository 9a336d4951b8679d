/**
 * What a server allocates, read from the profiles bench/alloc-sampling-preload.ts writes
 * (bench/cold-load.ts with ALLOC=1): `allocatedBytes` and `allocationSites`.
 */

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
}
export interface SamplingNode {
  callFrame: CallFrame
  selfSize: number
  children: SamplingNode[]
}
export interface SamplingProfile {
  head: SamplingNode
}

/** Every byte the profile counted. */
export function allocatedBytes(profile: SamplingProfile): number {
  let total = 0
  const walk = (node: SamplingNode): void => {
    total += node.selfSize
    for (const child of node.children) walk(child)
  }
  walk(profile.head)
  return total
}

/**
 * The functions that allocated the most, largest first: `name file:line` and bytes. A V8
 * builtin (`push`, `next`, a constructor) is named with the function that called it.
 */
export function allocationSites(profile: SamplingProfile, top: number, root: string): Array<{ site: string; bytes: number }> {
  const bySite = new Map<string, number>()
  const label = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^file:\/\//, '').replace(root, '')}:${f.lineNumber + 1}`
  const walk = (node: SamplingNode, parent: SamplingNode | undefined): void => {
    if (node.selfSize > 0) {
      const f = node.callFrame
      const site = f.url === '' && parent ? `${f.functionName || '(native)'} in ${label(parent.callFrame)}` : label(f)
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize)
    }
    for (const child of node.children) walk(child, node)
  }
  walk(profile.head, undefined)
  return [...bySite]
    .map(([site, bytes]) => ({ site, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, top)
}
