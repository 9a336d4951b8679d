/**
 * spdy's stream priority tree, with each node's share computed when it is asked for.
 *
 * spdy-transport keeps an RFC 7540 dependency tree per connection (`Priority`, one node per
 * stream, up to 100 nodes kept after their streams close). Its nodes store their share of
 * the connection (`priority`, a number in (0, 1]) and recompute it eagerly: adding a node
 * walks every sibling and every descendant of its parent, and each step passes two fresh
 * floating-point numbers, so V8 boxes them. Every request adds a node to the root, which
 * already holds up to 99 others: in the allocation profile of Express on spdy (`GET /crt`,
 * h2load -c 20 -m 10) that walk was 3.3 KB per request, the largest site in spdy-transport,
 * and 2 % of the server's busy time.
 *
 * The only reader of a share is the frame scheduler, once per frame it queues
 * (`getPriority()`), so here a node's share is computed from its parent's when read:
 * weight ÷ the weights of its siblings and itself, times the parent's share, the value the
 * eager walk converges to. (The two differ by rounding: the eager walk takes a share as the
 * difference of its range's two ends, so its shares are off by up to about 1e-16 of the
 * connection: a few parts in a billion of the share of a node deep in a tree.) A node's
 * children are a Set, made with its first child: adding or evicting a node costs a Set
 * operation, where spdy-transport's sorted array cost a splice. A node without children
 * shares one frozen, empty Children (a held stream's node, a leaf, keeps 40 bytes less).
 *
 * The tree keeps spdy-transport's API and shape (`add`, `addDefault`, `get`, `root`,
 * `count`, `list`, node `parent`/`weight`/`children`/`remove`/`toJSON`...), with two bugs of
 * the original fixed:
 * - Past the limit it evicted the newest node instead of the oldest. It removed the node
 *   from its list by a binary search for weight and id in a list ordered by insertion, which
 *   found nothing and dropped the list's last entry: the list was left holding one node, the
 *   first 99 nodes of the connection stayed forever, and each new stream evicted the one
 *   before it, open or not. Here the list is a queue and the oldest node goes first, so a
 *   PRIORITY frame can depend on a recently closed stream, as RFC 9113 §5.3.4 describes.
 * - Removing a node twice (an evicted node whose stream then gets a PRIORITY frame)
 *   counted it out twice. Here a removed node stays removed.
 */
import type { SpdyTransportModule } from './internals.js'

interface AddOptions {
  id: number
  parent: number | null
  weight?: number
  exclusive?: boolean
}

function compareChildren(a: PriorityNode, b: PriorityNode): number {
  return a.weight === b.weight ? a.id - b.id : a.weight - b.weight
}

/**
 * A node's children: a Set (adding and removing one is constant time, where spdy-transport
 * inserted into and spliced out of a sorted array) and their total weight. `list`, the
 * children in spdy-transport's order (weight, then id), is made when asked for: only for
 * a range, an exclusive dependency and a removal with children.
 */
class Children {
  /** Made with the first child: most nodes (a stream's) never have one. */
  set: Set<PriorityNode> | null = null
  weight = 0

  get list(): PriorityNode[] {
    return this.set === null ? [] : [...this.set].sort(compareChildren)
  }

  get size(): number {
    return this.set === null ? 0 : this.set.size
  }

  add(child: PriorityNode): void {
    if (this.set === null) this.set = new Set()
    this.set.add(child)
    this.weight += child.weight
  }

  delete(child: PriorityNode): void {
    if (this.set?.delete(child)) this.weight -= child.weight
  }
}

/**
 * The children of every node that has none: a node's own Children is made with its first
 * child (addChild), so a stream's node, a leaf in all but a few trees, keeps none. Frozen:
 * nothing adds to it.
 */
const NO_CHILDREN = Object.freeze(new Children())

class PriorityNode {
  readonly tree: PriorityTree
  readonly id: number
  parent: PriorityNode | null
  readonly weight: number
  /** Never set (spdy-transport's `toJSON` reports it): undefined, from the prototype, not a field per node. */
  declare readonly exclusive: boolean | undefined
  children: Children = NO_CHILDREN
  removed = false
  /**
   * The share this node had when it was removed: its stream may still ask (an evicted open stream).
   * Null until then, not 0: a field V8 has seen hold only numbers, one of them a fraction, is kept
   * as a box of its own per node (16 bytes more a held stream).
   */
  private shareWhenRemoved: number | null = null

  constructor(tree: PriorityTree, id: number, parent: PriorityNode | null, weight: number) {
    this.tree = tree
    this.id = id
    this.parent = null
    this.weight = weight
    if (parent !== null) parent.addChild(this)
  }

  /** This node's share of the connection: its weight's share among its siblings, of its parent's share. */
  get priority(): number {
    if (this.removed) return this.shareWhenRemoved!
    const parent = this.parent
    if (parent === null) return 1
    return parent.priority * (this.weight / parent.children.weight)
  }

  getPriority(): number {
    return this.priority
  }

  /** Where this node's share lies in [0, 1): after its parent's start, its preceding siblings' shares. */
  getPriorityRange(): { from: number; to: number } {
    const parent = this.parent
    if (parent === null) return { from: 0, to: 1 }
    const { from } = parent.getPriorityRange()
    const share = parent.priority
    const total = parent.children.weight
    let before = 0
    for (const sibling of parent.children.list) {
      if (sibling === this) break
      before += sibling.weight
    }
    return { from: from + share * (before / total), to: from + share * ((before + this.weight) / total) }
  }

  get priorityFrom(): number {
    return this.getPriorityRange().from
  }

  get priorityTo(): number {
    return this.getPriorityRange().to
  }

  toJSON(): { parent: PriorityNode | null; weight: number; exclusive: boolean | undefined } {
    return { parent: this.parent, weight: this.weight, exclusive: this.exclusive }
  }

  addChild(child: PriorityNode): void {
    child.parent = this
    if (this.children === NO_CHILDREN) this.children = new Children()
    this.children.add(child)
  }

  removeChild(child: PriorityNode): void {
    this.children.delete(child)
  }

  removeChildren(): PriorityNode[] {
    const children = this.children.list
    this.children = NO_CHILDREN
    return children
  }

  /** Takes this node out of the tree; its children move to its parent. */
  remove(): void {
    if (this.parent === null) throw new Error("Can't remove root node")
    if (this.removed) return
    this.shareWhenRemoved = this.priority
    this.removed = true
    this.parent.removeChild(this)
    this.tree._removeNode(this)
    if (this.children.size === 0) return
    for (const child of this.children.list) this.parent.addChild(child)
    this.children = NO_CHILDREN
  }
}

class PriorityTree {
  readonly map = new Map<number, PriorityNode>()
  /** The nodes other than the root, oldest first, from `head` on (a queue: removal marks, shifting is amortized). */
  list: PriorityNode[] = []
  private head = 0
  readonly defaultWeight: number
  count = 0
  readonly maxCount: number
  readonly root: PriorityNode

  static create(options: { defaultWeight?: number; maxCount?: number }): PriorityTree {
    return new PriorityTree(options)
  }

  constructor(options: { defaultWeight?: number; maxCount?: number }) {
    this.defaultWeight = options.defaultWeight || 16
    this.maxCount = options.maxCount ?? Number.POSITIVE_INFINITY
    this.root = this.add({ id: 0, parent: null, weight: 1 })
  }

  add(options: AddOptions): PriorityNode {
    if (options.id === options.parent) return this.addDefault(options.id)
    const parent = options.parent === null ? null : this.map.get(options.parent)
    if (parent === undefined) return this.addDefault(options.id)

    const children = options.exclusive && parent !== null ? parent.removeChildren() : undefined
    const node = new PriorityNode(this, options.id, parent, options.weight || this.defaultWeight)
    this.map.set(options.id, node)
    if (children) for (const child of children) node.addChild(child)

    this.count++
    if (this.count > this.maxCount) this.oldest()?.remove()
    if (node.parent !== null) this.list.push(node)
    return node
  }

  get(id: number): PriorityNode | undefined {
    return this.map.get(id)
  }

  addDefault(id: number): PriorityNode {
    return this.add({ id, parent: 0, weight: this.defaultWeight })
  }

  /** The oldest node still in the tree. */
  private oldest(): PriorityNode | undefined {
    const list = this.list
    while (this.head < list.length && list[this.head]!.removed) this.head++
    return list[this.head]
  }

  _removeNode(node: PriorityNode): void {
    if (this.map.get(node.id) === node) this.map.delete(node.id)
    this.count--
    const list = this.list
    // The usual removal is the oldest node: step past it. Any other stays in the queue, marked,
    // until the queue holds more removed nodes than live ones (a PRIORITY frame re-adds its
    // stream's node each time): then the queue is rebuilt, in amortized constant time.
    if (list[this.head] === node) this.head++
    if (list.length - this.head > 2 * this.count + 32) {
      this.list = list.filter((n, i) => i >= this.head && !n.removed)
      this.head = 0
    } else if (this.head === list.length || this.head > 64) {
      list.splice(0, this.head)
      this.head = 0
    }
  }
}

export { PriorityTree as LightPriorityTree }

/** Makes new connections keep their stream priorities in a LightPriorityTree. */
export function installLightPriority(transport: SpdyTransportModule): void {
  ;(transport as unknown as { Priority: unknown }).Priority = PriorityTree
}
