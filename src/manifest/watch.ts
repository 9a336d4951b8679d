/**
 * Hot reload: watches the manifest's folder (editors often replace the file rather
 * than write it), reloads on change, debounced. The watcher never keeps the process
 * alive; `close()` stops it.
 */
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'

export function watchFile(file: string, onChange: () => void, debounceMs = 50): () => void {
  const name = basename(file)
  let timer: NodeJS.Timeout | undefined
  let watcher: FSWatcher | undefined = watch(dirname(file), { persistent: false }, (_event, changed) => {
    if (changed !== null && changed.toString() !== name) return
    clearTimeout(timer)
    timer = setTimeout(onChange, debounceMs)
    timer.unref()
  })
  watcher.on('error', () => {
    watcher?.close()
    watcher = undefined
  })
  return () => {
    clearTimeout(timer)
    watcher?.close()
    watcher = undefined
  }
}
