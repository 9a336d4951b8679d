/**
 * The per-connection push diary (as Apache's H2PushDiarySize): the keys pushed on one
 * HTTP/2 connection, newest last, bounded. Held in a WeakMap by the connection object,
 * so it goes with the connection.
 */
export class PushDiary {
  readonly #keys = new Set<string>()
  constructor(readonly size: number) {}

  has(key: string): boolean {
    return this.#keys.has(key)
  }

  add(key: string): void {
    if (this.size === 0) return
    this.#keys.delete(key)
    this.#keys.add(key)
    if (this.#keys.size > this.size) this.#keys.delete(this.#keys.values().next().value as string)
  }
}

const diaries = new WeakMap<object, PushDiary>()

export function diaryFor(connection: object, size: number): PushDiary {
  let diary = diaries.get(connection)
  if (!diary) {
    diary = new PushDiary(size)
    diaries.set(connection, diary)
  }
  return diary
}
