/**
 * One page load's timeline, from both ends (bench/pageload.ts, `bench:pageload-browser`):
 *
 * - the browser's: the page's script writes Chromium's Navigation and Resource Timing into the DOM
 *   (read with --dump-dom), in ms after the navigation started: the connection, the request, the 103
 *   (`firstInterimResponseStart`), each stylesheet's request, first and last byte, the final response's
 *   headers and end, DOMContentLoaded and the load event;
 * - the server's: the events bench/timeline-server.ts prints, in ms after the page's request reached the app.
 *
 * Each phase's median over the rounds makes the table; bench/README.md accounts for the ms above the floor.
 */

/** The script of the browser's page: its report, written into `<pre id="report">` once the load event has run. */
export const REPORT_SCRIPT = `<pre id="report"></pre><script>
addEventListener('load', () => setTimeout(() => {
  const n = performance.getEntriesByType('navigation')[0]
  const pick = (e, keys) => Object.fromEntries(keys.map((k) => [k, typeof e[k] === 'number' ? Math.round(e[k] * 10) / 10 : e[k]]))
  const times = ['startTime', 'connectStart', 'connectEnd', 'requestStart', 'responseStart', 'responseEnd', 'transferSize']
  const css = performance.getEntriesByType('resource').filter((e) => e.name.endsWith('.css'))
  document.getElementById('report').textContent = JSON.stringify({
    protocol: n.nextHopProtocol,
    nav: pick(n, [...times, 'secureConnectionStart', 'firstInterimResponseStart', 'finalResponseHeadersStart', 'domInteractive',
      'domContentLoadedEventStart', 'domContentLoadedEventEnd', 'loadEventStart']),
    css: css.map((e) => pick(e, [...times, 'initiatorType', 'deliveryType', 'nextHopProtocol', 'renderBlockingStatus'])),
  })
}))
</script>`

/** The page links this many stylesheets (bench/pageload.ts writes them). */
const STYLESHEETS = 10

type Times = Record<string, number>
export interface PageReport {
  protocol: string
  nav: Times
  css: Array<Times & { initiatorType: string; deliveryType: string; nextHopProtocol: string }>
}

/** One load's server events (`tl <event> <ms>` lines), each event's times in order. */
export function serverEvents(lines: readonly string[]): Map<string, number[]> {
  const events = new Map<string, number[]>()
  for (const line of lines) {
    const m = /^tl (\S+) ([\d.]+)$/.exec(line.trim())
    if (!m) continue
    const list = events.get(m[1]!) ?? []
    list.push(Number(m[2]))
    events.set(m[1]!, list)
  }
  return events
}

/** A phase of the timeline: its name, which end saw it, and its time in one load (NaN: did not happen). */
export interface Phase {
  name: string
  side: 'browser' | 'server'
  at: (report: PageReport, server: Map<string, number[]>) => number
}

const min = (xs: number[]): number => (xs.length ? Math.min(...xs) : NaN)
const max = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN)
const nonzero = (x: number | undefined): number => (x ? x : NaN)
/** A server event's time after the page's request reached the app. */
const after = (server: Map<string, number[]>, event: string, pick: (xs: number[]) => number = min): number => {
  const page = server.get('page-in')?.[0]
  const times = server.get(event)
  return page === undefined || !times ? NaN : pick(times) - page
}

export const PHASES: readonly Phase[] = [
  { name: 'TCP connect starts', side: 'browser', at: (r) => r.nav['connectStart']! },
  { name: 'TLS starts', side: 'browser', at: (r) => r.nav['secureConnectionStart']! },
  { name: 'page request sent', side: 'browser', at: (r) => r.nav['requestStart']! },
  { name: 'TCP accepted', side: 'server', at: (_r, s) => after(s, 'accept') },
  { name: 'TLS done', side: 'server', at: (_r, s) => after(s, 'tls') },
  { name: 'page request in (0)', side: 'server', at: (_r, s) => after(s, 'page-in') },
  { name: '103 written', side: 'server', at: (_r, s) => after(s, 'hints') },
  { name: '103: next event-loop turn', side: 'server', at: (_r, s) => after(s, 'hints-turn') },
  { name: '103 arrives', side: 'browser', at: (r) => nonzero(r.nav['firstInterimResponseStart']) },
  { name: 'first stylesheet requested', side: 'browser', at: (r) => min(r.css.map((c) => c['requestStart']!)) },
  { name: 'first stylesheet request in', side: 'server', at: (_r, s) => after(s, 'css-in') },
  { name: 'last stylesheet request in', side: 'server', at: (_r, s) => after(s, 'css-in', max) },
  { name: 'last stylesheet response finished', side: 'server', at: (_r, s) => after(s, 'css-out', max) },
  { name: 'first stylesheet first byte', side: 'browser', at: (r) => min(r.css.map((c) => c['responseStart']!)) },
  { name: 'last stylesheet last byte', side: 'browser', at: (r) => max(r.css.map((c) => c['responseEnd']!)) },
  { name: 'route think ends', side: 'server', at: (_r, s) => after(s, 'think-end') },
  { name: 'page final HEADERS written', side: 'server', at: (_r, s) => after(s, 'page-head') },
  { name: 'page response finished', side: 'server', at: (_r, s) => after(s, 'page-out') },
  { name: 'final response headers arrive', side: 'browser', at: (r) => nonzero(r.nav['finalResponseHeadersStart']) || r.nav['responseStart']! },
  { name: 'page body ends', side: 'browser', at: (r) => r.nav['responseEnd']! },
  { name: 'DOMContentLoaded', side: 'browser', at: (r) => r.nav['domContentLoadedEventStart']! },
  { name: 'load event', side: 'browser', at: (r) => r.nav['loadEventStart']! },
]

/** One load's server events in ms after the page's request reached the app (kept in the JSON file). */
export function relativeEvents(server: Map<string, number[]>): Record<string, number[]> {
  const page = server.get('page-in')?.[0] ?? NaN
  return Object.fromEntries([...server].map(([event, times]) => [event, times.map((t) => Math.round((t - page) * 10) / 10)]))
}

/** How many connections the load took, how many stylesheets the page took from the 103's preloads, the server's CPU time. */
export function loadFacts(report: PageReport, server: Map<string, number[]>): { connections: number; hinted: number; refetched: number; cpuMs: number } {
  const cpu = server.get('cpu') ?? []
  return {
    // The server's CPU time from the first connection to the last response of the load (the favicon's included).
    cpuMs: cpu.length > 1 ? Math.round((max(cpu) - min(cpu)) * 10) / 10 : NaN,
    connections: server.get('accept')?.length ?? 0,
    hinted: report.css.filter((c) => c.initiatorType === 'early-hints').length,
    // A preload the page did not use: its stylesheet was requested again.
    refetched: (server.get('css-in')?.length ?? 0) - STYLESHEETS,
  }
}
