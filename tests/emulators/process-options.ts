/**
 * @module What every emulator's `main.ts` shares: its options from `--name value`, `--name=value` or the env
 * variable `<PREFIX>_<NAME>`, and serving until SIGTERM/SIGINT.
 */

export function processOptions(envPrefix: string) {
  function option(name: string): string | undefined {
    const flag = `--${name}`
    const i = process.argv.indexOf(flag)
    if (i !== -1) return process.argv[i + 1]
    const inline = process.argv.find((a) => a.startsWith(`${flag}=`))
    if (inline) return inline.slice(flag.length + 1)
    return process.env[`${envPrefix}_${name.toUpperCase().replaceAll('-', '_')}`]
  }

  /** A number option; a malformed one (or one below `min`) ends the process with exit 2. */
  function num(name: string, { min }: { min?: number } = {}): number | undefined {
    const raw = option(name)
    if (raw === undefined) return undefined
    const n = Number(raw)
    if (!Number.isFinite(n) || (min !== undefined && n < min)) {
      const what = min === 0 ? 'a non-negative number' : 'a number'
      console.error(`--${name} must be ${what}, got ${raw}`)
      process.exit(2)
    }
    return n
  }

  return { option, num }
}

/** Stops the emulator once on SIGTERM or SIGINT, then exits 0. */
export function serveUntilSignal(stop: () => Promise<void>): void {
  let stopping = false
  const shutdown = async () => {
    if (stopping) return
    stopping = true
    await stop()
    process.exit(0)
  }
  process.on('SIGTERM', () => void shutdown())
  process.on('SIGINT', () => void shutdown())
}
