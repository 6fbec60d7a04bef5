/**
 * The process-wide guard against postgres.js's stray socket errors (src/runtime/stray-socket-errors.ts), run in
 * child processes because an uncaught exception is about the whole process.
 */
import { describe, expect, test } from 'bun:test'
import { isStraySocketError } from '../../src/runtime/stray-socket-errors.ts'

const guard = new URL('../../src/runtime/stray-socket-errors.ts', import.meta.url).pathname
const logger = new URL('../../src/log/logger.ts', import.meta.url).pathname

/** Runs `body` after the guard is installed; the child prints `alive` when it outlived the error. */
async function child(body: string): Promise<{ code: number; out: string }> {
  const script = `
    import { forgiveStraySocketErrors } from '${guard}'
    import { createLogger } from '${logger}'
    import { Socket } from 'node:net'
    const guard = forgiveStraySocketErrors(createLogger({ level: 'warn' }))
    setTimeout(() => { ${body} }, 10)
    setTimeout(() => { console.log('alive forgiven=' + guard.forgiven()); process.exit(0) }, 200)
  `
  const proc = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'pipe' })
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
  return { code, out }
}

const reset = `Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read', errno: -104 })`

describe('stray socket errors', () => {
  test('an ECONNRESET on a socket nobody listens to any more does not end the process', async () => {
    const result = await child(`new Socket().emit('error', ${reset})`)
    expect(result.out).toContain('alive forgiven=1')
    expect(result.code).toBe(0)
  })

  test('any other uncaught exception still ends the process, logged as fatal', async () => {
    const result = await child(`throw new TypeError('a bug of ours')`)
    expect(result.out).not.toContain('alive')
    expect(result.out).toContain('uncaught exception')
    expect(result.code).toBe(1)
  })

  test('recognises postgres.js writing to its dropped socket, and nothing that merely looks alike', () => {
    const nullWrite = new TypeError("null is not an object (evaluating 'socket.write')")
    nullWrite.stack = `TypeError: ${nullWrite.message}\n    at nextWrite (/app/node_modules/postgres/src/connection.js:255:15)`
    expect(isStraySocketError(nullWrite)).toBe(true)
    const ours = new TypeError("null is not an object (evaluating 'socket.write')")
    ours.stack = `TypeError: ${ours.message}\n    at send (/app/src/relay/outbound.ts:10:5)`
    expect(isStraySocketError(ours)).toBe(false)
    // A refused connect is reported to the caller, never an orphan event: not forgiven.
    expect(
      isStraySocketError(Object.assign(new Error('x'), { code: 'ECONNREFUSED', syscall: 'connect' })),
    ).toBe(false)
  })
})
