/**
 * @module Small helpers of the relay benchmark: process figures from /proc, percentiles, the sustained rate of
 * a run of arrival times, waiting for a condition.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** Resident set size of a process, in KB (`VmRSS` of /proc/<pid>/status). */
export function rssKb(pid: number): number {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!match) throw new Error(`no VmRSS for ${pid}`)
  return Number(match[1])
}

/** User + system CPU time of a process, in clock ticks (100 per second on Linux). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index]!
}

/**
 * Messages per second between the 10th and the 90th percentile of the arrival times (ms): the ramp-up and
 * the tail of a burst left out.
 */
export function sustainedRate(times: readonly number[]): number {
  if (times.length < 10) return Number.NaN
  const sorted = [...times].sort((a, b) => a - b)
  const lo = Math.floor(sorted.length * 0.1)
  const hi = Math.floor(sorted.length * 0.9)
  const ms = sorted[hi]! - sorted[lo]!
  return ms > 0 ? ((hi - lo) / ms) * 1000 : Number.NaN
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const started = performance.now()
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(everyMs)
  }
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer()
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => done(port))
    })
  })
}
