/** @module One process per data directory: embedded PGlite cannot be shared, so a second process must refuse. */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError'
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes `<dir>/olchat.lock` for this process. A lock left by a process that no longer runs is taken over.
 * @returns a function that releases the lock.
 */
export function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true })
  const path = join(dir, 'olchat.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return () => rmSync(path, { force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number(readFileSync(path, 'utf8').trim())
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DataDirInUseError(
          `data directory ${dir} is in use by process ${owner}: embedded mode runs one process only ` +
            '(stop it, choose another OLCHAT_DATA_DIR, or set DATABASE_URL to share a PostgreSQL server)',
        )
      }
      rmSync(path, { force: true })
    }
  }
  throw new DataDirInUseError(`could not lock data directory ${dir}`)
}
