/** @module Polls until a probe yields a value — how the process-level suites wait on other processes. */

export interface UntilOptions {
  timeoutMs?: number
  everyMs?: number
  /** Treat a probe that throws as "not yet" (a server restarting mid-test). */
  ignoreErrors?: boolean
}

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  { timeoutMs = 20_000, everyMs = 100, ignoreErrors = false }: UntilOptions = {},
): Promise<T> {
  const started = performance.now()
  for (;;) {
    const value = ignoreErrors ? await probe().catch(() => undefined) : await probe()
    if (value !== undefined) return value
    if (performance.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(everyMs)
  }
}
