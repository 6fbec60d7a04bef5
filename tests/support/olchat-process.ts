/**
 * @module Runs Olchat as a real child process (`bun src/main.ts`) and reads its JSON log lines, the way an
 * operator or an orchestrator sees it.
 */
import { resolve } from 'node:path'
import type { Subprocess } from 'bun'

const root = resolve(import.meta.dir, '../..')

export interface OlchatProcess {
  child: Subprocess<'ignore', 'pipe', 'pipe'>
  lines: Array<Record<string, unknown>>
  stderr: () => string
  /** Resolves with the first log line matching, or rejects after `timeoutMs`. */
  waitForLog(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>
  /** Base URL once the process logged that it listens. */
  baseUrl(): Promise<string>
  waitReady(timeoutMs?: number): Promise<number>
  stop(signal?: NodeJS.Signals): Promise<number>
}

/** `OLCHAT_CPU_PROFILE_DIR` (of the test or bench process): each child writes a CPU profile there on exit. */
function profileArgs(): string[] {
  const dir = process.env.OLCHAT_CPU_PROFILE_DIR
  return dir ? ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${dir}`] : []
}

export function startOlchat(env: Record<string, string>): OlchatProcess {
  const child = Bun.spawn([process.execPath, ...profileArgs(), 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const lines: Array<Record<string, unknown>> = []
  let errText = ''
  const waiters = new Set<() => void>()
  void (async () => {
    let buffer = ''
    const decoder = new TextDecoder()
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true })
      let newline = buffer.indexOf('\n')
      while (newline >= 0) {
        const raw = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        try {
          lines.push(JSON.parse(raw))
        } catch {
          lines.push({ raw })
        }
        newline = buffer.indexOf('\n')
      }
      for (const wake of waiters) wake()
    }
  })()
  void (async () => {
    errText = await new Response(child.stderr).text()
  })()

  const waitForLog: OlchatProcess['waitForLog'] = (predicate, timeoutMs = 20_000) =>
    new Promise((resolvePromise, reject) => {
      const check = () => {
        const found = lines.find(predicate)
        if (found) {
          waiters.delete(check)
          clearTimeout(timer)
          resolvePromise(found)
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`log line not seen in ${timeoutMs} ms; got: ${JSON.stringify(lines)} ${errText}`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })

  const baseUrl = async () => {
    const line = await waitForLog((l) => l.msg === 'listening')
    return `http://127.0.0.1:${line.port}`
  }

  return {
    child,
    lines,
    stderr: () => errText,
    waitForLog,
    baseUrl,
    async waitReady(timeoutMs = 15_000) {
      const started = performance.now()
      const url = `${await baseUrl()}/readyz`
      while (performance.now() - started < timeoutMs) {
        const res = await fetch(url).catch(() => undefined)
        if (res?.status === 200) return performance.now() - started
        await Bun.sleep(100)
      }
      throw new Error(`not ready within ${timeoutMs} ms; log: ${JSON.stringify(lines)} ${errText}`)
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal)
      return child.exited
    },
  }
}
