/**
 * @module The Redis cache (`REDIS_URL`, ioredis). Every key lives under `keyPrefix`, so several deployments
 * or test runs can share one server and `deleteByPrefix` never reaches outside our namespace.
 * `rediss://` turns TLS on (certificates are always verified; `tls.ca` trusts a private CA).
 */
import { randomUUID } from 'node:crypto'
import type { ConnectionOptions } from 'node:tls'
import { Redis } from 'ioredis'
import type { Cache, CacheLock } from './cache.ts'

/** Client-side TLS settings for `rediss://`. No switch to skip verification, on purpose. */
export type RedisTlsOptions = Pick<ConnectionOptions, 'ca' | 'cert' | 'key' | 'servername'>

export interface RedisCacheOptions {
  url: string
  /** Namespace for every key; default `olchat:`. */
  keyPrefix?: string
  /** Only with `rediss://`. */
  tls?: RedisTlsOptions
  /** Upper bound for one command, queueing included (default 5000 ms): readiness must not hang. */
  commandTimeoutMs?: number
  /** Connection errors (refused, reset, TLS). Commands still reject on their own; this is for logging. */
  onError?: (error: Error) => void
}

// Atomic so that two racing first increments cannot both (or neither) set the window's expiry.
const INCREMENT_LUA = `
local created = redis.call('EXISTS', KEYS[1]) == 0
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if created and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`

// Compare-and-delete: a holder whose lock expired and was taken over must not delete the new holder's lock.
const RELEASE_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

interface ScriptCommands {
  olchatIncrement(key: string, by: number, ttlMs: number): Promise<number>
  olchatRelease(key: string, token: string): Promise<number>
}

/** SCAN page size; also the UNLINK batch size. */
const SCAN_COUNT = 1000

export class RedisCache implements Cache {
  private readonly redis: Redis & ScriptCommands
  private readonly keyPrefix: string
  private closed = false

  constructor(options: RedisCacheOptions) {
    const protocol = URL.canParse(options.url) ? new URL(options.url).protocol : ''
    // Never echo the URL: it may carry a password.
    if (protocol !== 'redis:' && protocol !== 'rediss:')
      throw new Error('Redis URL must be redis:// or rediss://')
    if (options.tls && protocol !== 'rediss:') throw new Error('Redis TLS options need a rediss:// URL')
    this.keyPrefix = options.keyPrefix ?? 'olchat:'
    this.redis = new Redis(options.url, {
      // Connect now so a bad URL shows up at start-up; commands issued before "ready" wait in the offline
      // queue (kept on for that reason), and maxRetriesPerRequest 1 flushes that queue with an error after
      // two failed connection attempts instead of letting callers wait for Redis to come back.
      lazyConnect: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 1,
      // Keep reconnecting forever, but never more than ~1 s apart, so a queued command fails in ~2 s.
      retryStrategy: (times) => Math.min(times * 100, 1000) + Math.floor(Math.random() * 100),
      connectTimeout: 5000,
      commandTimeout: options.commandTimeoutMs ?? 5000,
      connectionName: 'olchat',
      ...(options.tls ? { tls: { ...options.tls } } : {}),
      scripts: {
        olchatIncrement: { numberOfKeys: 1, lua: INCREMENT_LUA },
        olchatRelease: { numberOfKeys: 1, lua: RELEASE_LUA },
      },
    }) as Redis & ScriptCommands
    // Without a listener ioredis prints every reconnect failure; callers see failures as rejections anyway.
    this.redis.on('error', (error: Error) => options.onError?.(error))
  }

  async get(key: string): Promise<string | undefined> {
    this.checkOpen()
    return (await this.redis.get(this.keyPrefix + key)) ?? undefined
  }

  async set(key: string, value: string, ttlMs?: number): Promise<void> {
    this.checkOpen()
    if (ttlMs === undefined) await this.redis.set(this.keyPrefix + key, value)
    else await this.redis.set(this.keyPrefix + key, value, 'PX', checkTtl(ttlMs))
  }

  async delete(key: string): Promise<boolean> {
    this.checkOpen()
    return (await this.redis.unlink(this.keyPrefix + key)) > 0
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    this.checkOpen()
    let deleted = 0
    // UNLINK page by page: memory stays bounded and the server frees values in the background.
    for await (const batch of this.scan(prefix)) deleted += await this.redis.unlink(...batch)
    return deleted
  }

  async increment(key: string, by = 1, ttlMs?: number): Promise<number> {
    this.checkOpen()
    if (!Number.isSafeInteger(by)) throw new RangeError('Cache increment must be a safe integer')
    const ttl = ttlMs === undefined ? 0 : checkTtl(ttlMs)
    return Number(await this.redis.olchatIncrement(this.keyPrefix + key, by, ttl))
  }

  async tryLock(key: string, ttlMs: number): Promise<CacheLock | undefined> {
    this.checkOpen()
    const fullKey = this.keyPrefix + key
    const token = randomUUID()
    const taken = await this.redis.set(fullKey, token, 'PX', checkTtl(ttlMs), 'NX')
    if (taken !== 'OK') return undefined
    return {
      release: async () => {
        this.checkOpen()
        await this.redis.olchatRelease(fullKey, token)
      },
    }
  }

  async keys(prefix: string): Promise<string[]> {
    this.checkOpen()
    // SCAN may return a key more than once.
    const found = new Set<string>()
    for await (const batch of this.scan(prefix)) {
      for (const key of batch) found.add(key.slice(this.keyPrefix.length))
    }
    return [...found].sort()
  }

  async ping(): Promise<void> {
    this.checkOpen()
    const reply = await this.redis.ping()
    if (reply !== 'PONG') throw new Error(`Redis PING answered ${String(reply)}`)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.redis.quit()
    } catch {
      // Server unreachable: nothing to say goodbye to, just drop the socket and stop reconnecting.
      this.redis.disconnect()
    }
  }

  /** Non-empty pages of full keys under `keyPrefix + prefix`, via SCAN (KEYS would block the server). */
  private async *scan(prefix: string): AsyncGenerator<string[]> {
    const pattern = `${escapeGlob(this.keyPrefix + prefix)}*`
    let cursor = '0'
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT)
      cursor = next
      if (keys.length > 0) yield keys
    } while (cursor !== '0')
  }

  private checkOpen(): void {
    // A clear error instead of ioredis' "Connection is closed." (or a hang, had it reconnected).
    if (this.closed) throw new Error('RedisCache is closed')
  }
}

/** Redis wants a positive whole number of milliseconds; a zero or negative TTL is a caller bug. */
function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError('Cache TTL must be a positive number of ms')
  return Math.ceil(ttlMs)
}

/** Makes `*`, `?`, `[`, `]` and `\` in a prefix match literally in a SCAN MATCH pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}
