/**
 * @module Runs an emulator as its own process (`bun <args>`) and reads the JSON line with its addresses that it
 * prints first — how the process-level suites start the Bitrix24 and sandbox emulators.
 */
import { resolve } from 'node:path'
import type { Subprocess } from 'bun'

const root = resolve(import.meta.dir, '../..')

export interface EmulatorProcess<Info = Record<string, string>> {
  child: Subprocess<'ignore', 'pipe', 'inherit'>
  info: Info
  stop(): Promise<void>
}

export async function spawnEmulator<Info = Record<string, string>>(
  args: string[],
): Promise<EmulatorProcess<Info>> {
  const child = Bun.spawn([process.execPath, ...args], {
    cwd: root,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'inherit',
  })
  const reader = child.stdout.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!text.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`emulator ${args[0]} exited before printing its address`)
    text += decoder.decode(value, { stream: true })
  }
  reader.releaseLock()
  return {
    child,
    info: JSON.parse(text.split('\n')[0]!) as Info,
    async stop() {
      child.kill('SIGTERM')
      await child.exited
    },
  }
}
