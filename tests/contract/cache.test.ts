/**
 * @module One contract suite for every Cache: the in-process one always, Redis with the real backends.
 * Each Redis test gets its own key prefix on the shared server and deletes it afterwards.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { randomUUID } from 'node:crypto'
import net from 'node:net'
import { Redis } from 'ioredis'
import type { Cache } from '../../storage/cache/cache.ts'
import { MemoryCache } from '../../storage/cache/memory-cache.ts'
import { RedisCache } from '../../storage/cache/redis-cache.ts'
import { testBackendSet, testRedisUrl } from '../support/backends.ts'

interface Backend {
  name: string
  create(): Cache
}

const uniquePrefix = () => `olchat-test:${randomUUID()}:`

const backends: Backend[] = [{ name: 'MemoryCache', create: () => new MemoryCache() }]
if (testBackendSet() === 'real') {
  backends.push({
    name: 'RedisCache',
    create: () => new RedisCache({ url: testRedisUrl, keyPrefix: uniquePrefix() }),
  })
}

describe.each(backends)('Cache contract: $name', (backend) => {
  let cache: Cache
  let closed: boolean

  beforeEach(() => {
    cache = backend.create()
    closed = false
  })
  afterEach(async () => {
    if (closed) return
    // Everything lives under this test's prefix; leave the shared server as we found it.
    await cache.deleteByPrefix('')
    await cache.close()
  })

  test('get, set, delete', async () => {
    expect(await cache.get('a')).toBeUndefined()
    await cache.set('a', 'one')
    expect(await cache.get('a')).toBe('one')
    await cache.set('a', 'two')
    expect(await cache.get('a')).toBe('two')
    await cache.set('empty', '')
    expect(await cache.get('empty')).toBe('')
    expect(await cache.delete('a')).toBe(true)
    expect(await cache.delete('a')).toBe(false)
    expect(await cache.get('a')).toBeUndefined()
  })

  test('a value with a TTL expires; one without persists', async () => {
    await cache.set('short', 'x', 80)
    await cache.set('forever', 'y')
    expect(await cache.get('short')).toBe('x')
    await Bun.sleep(130)
    expect(await cache.get('short')).toBeUndefined()
    expect(await cache.delete('short')).toBe(false)
    expect(await cache.keys('')).toEqual(['forever'])
    expect(await cache.get('forever')).toBe('y')
  })

  test('set without TTL clears an earlier expiry', async () => {
    await cache.set('k', 'old', 80)
    await cache.set('k', 'new')
    await Bun.sleep(130)
    expect(await cache.get('k')).toBe('new')
  })

  test('a TTL must be positive', async () => {
    await expect(cache.set('k', 'v', 0)).rejects.toThrow(RangeError)
    await expect(cache.increment('n', 1, -5)).rejects.toThrow(RangeError)
    await expect(cache.tryLock('l', Number.NaN)).rejects.toThrow(RangeError)
    expect(await cache.keys('')).toEqual([])
  })

  test('increment creates at 0 and adds', async () => {
    expect(await cache.increment('n')).toBe(1)
    expect(await cache.increment('n', 5)).toBe(6)
    expect(await cache.increment('n', -2)).toBe(4)
    expect(await cache.get('n')).toBe('4')
    expect(await cache.increment('zero', 0)).toBe(0)
    expect(await cache.get('zero')).toBe('0')
    await cache.set('text', 'abc')
    await expect(cache.increment('text')).rejects.toThrow()
    await expect(cache.increment('n', 1.5)).rejects.toThrow(RangeError)
    expect(await cache.get('n')).toBe('4')
  })

  test('increment applies its TTL on creation only', async () => {
    expect(await cache.increment('window', 1, 200)).toBe(1)
    await Bun.sleep(120)
    // Had this extended the TTL, the counter would live until ~320 ms.
    expect(await cache.increment('window', 1, 200)).toBe(2)
    await Bun.sleep(120)
    expect(await cache.get('window')).toBeUndefined()
    // A fresh window starts again from 0.
    expect(await cache.increment('window', 1, 200)).toBe(1)
  })

  test('increment without TTL persists', async () => {
    await cache.increment('hits', 1)
    await Bun.sleep(60)
    expect(await cache.increment('hits', 1, 50)).toBe(2)
    await Bun.sleep(80)
    expect(await cache.get('hits')).toBe('2')
  })

  test('tryLock is exclusive until released', async () => {
    const first = await cache.tryLock('job', 5000)
    expect(first).toBeDefined()
    expect(await cache.tryLock('job', 5000)).toBeUndefined()
    // Other keys are independent.
    const other = await cache.tryLock('other-job', 5000)
    expect(other).toBeDefined()
    await first!.release()
    const second = await cache.tryLock('job', 5000)
    expect(second).toBeDefined()
    // Releasing an already released lock is harmless and leaves the new holder alone.
    await first!.release()
    expect(await cache.tryLock('job', 5000)).toBeUndefined()
    await second!.release()
    await other!.release()
    expect(await cache.keys('')).toEqual([])
  })

  test('an expired lock can be taken; the stale holder cannot release the new one', async () => {
    const stale = await cache.tryLock('job', 80)
    expect(stale).toBeDefined()
    await Bun.sleep(130)
    const fresh = await cache.tryLock('job', 5000)
    expect(fresh).toBeDefined()
    await stale!.release()
    expect(await cache.tryLock('job', 5000)).toBeUndefined()
    await fresh!.release()
    expect(await cache.tryLock('job', 5000)).toBeDefined()
  })

  test('tryLock does not take a key that holds a value', async () => {
    await cache.set('busy', 'value')
    expect(await cache.tryLock('busy', 1000)).toBeUndefined()
    expect(await cache.get('busy')).toBe('value')
  })

  test('deleteByPrefix removes only that prefix and counts', async () => {
    await Promise.all([
      ...Array.from({ length: 30 }, (_, i) => cache.set(`acct:1:contact:${i}`, 'c')),
      cache.set('acct:1:session', 's', 60_000),
      cache.set('acct:10:session', 's'),
      cache.set('acct:2:session', 's'),
      cache.set('xacct:1:session', 's'),
    ])
    expect(await cache.deleteByPrefix('acct:1:')).toBe(31)
    expect(await cache.keys('')).toEqual(['acct:10:session', 'acct:2:session', 'xacct:1:session'])
    expect(await cache.deleteByPrefix('acct:1:')).toBe(0)
    expect(await cache.deleteByPrefix('nothing:')).toBe(0)
  })

  test('prefixes are literal, not glob patterns', async () => {
    await Promise.all(['a*b', 'a*bc', 'axb', 'a?b', 'a[b]', 'ab', 'a\\b'].map((key) => cache.set(key, '1')))
    expect(await cache.keys('a*')).toEqual(['a*b', 'a*bc'])
    expect(await cache.keys('a?')).toEqual(['a?b'])
    expect(await cache.keys('a[b')).toEqual(['a[b]'])
    expect(await cache.keys('a\\')).toEqual(['a\\b'])
    expect(await cache.deleteByPrefix('a*')).toBe(2)
    expect(await cache.keys('a')).toEqual(['a?b', 'a[b]', 'a\\b', 'ab', 'axb'])
  })

  test('keys lists live keys under a prefix', async () => {
    await cache.set('p:b', '1')
    await cache.set('p:a', '1')
    await cache.set('p:gone', '1', 50)
    await cache.set('q:a', '1')
    await Bun.sleep(90)
    expect(await cache.keys('p:')).toEqual(['p:a', 'p:b'])
    expect(await cache.keys('')).toEqual(['p:a', 'p:b', 'q:a'])
    expect(await cache.keys('none:')).toEqual([])
  })

  test('ping answers', async () => {
    await cache.ping()
  })

  test('after close every call rejects; close is idempotent', async () => {
    await cache.set('k', 'v')
    await cache.deleteByPrefix('')
    await cache.close()
    closed = true
    await cache.close()
    await expect(cache.get('k')).rejects.toThrow(/closed/)
    await expect(cache.set('k', 'v')).rejects.toThrow(/closed/)
    await expect(cache.increment('n')).rejects.toThrow(/closed/)
    await expect(cache.tryLock('l', 100)).rejects.toThrow(/closed/)
    await expect(cache.keys('')).rejects.toThrow(/closed/)
    await expect(cache.ping()).rejects.toThrow(/closed/)
  })
})

describe('MemoryCache', () => {
  test('expired entries are swept without being read', async () => {
    const cache = new MemoryCache({ sweepIntervalMs: 20 })
    try {
      await cache.set('gone', 'x', 30)
      await cache.set('kept', 'y')
      await expect(cache.size).toBe(2)
      await Bun.sleep(100)
      await expect(cache.size).toBe(1)
    } finally {
      await cache.close()
    }
  })
})

describe('RedisCache options', () => {
  test('rejects URLs that are not redis:// or rediss://, and TLS options on a plain URL', () => {
    expect(() => new RedisCache({ url: 'http://127.0.0.1:6379' })).toThrow(/redis:\/\//)
    expect(() => new RedisCache({ url: 'redis://:secret@127.0.0.1:6379', tls: { ca: 'x' } })).toThrow(
      /rediss/,
    )
  })
})

describe.if(testBackendSet() === 'real')('RedisCache', () => {
  let prefix: string
  let raw: Redis
  const opened: RedisCache[] = []
  const open = (keyPrefix: string) => {
    const cache = new RedisCache({ url: testRedisUrl, keyPrefix })
    opened.push(cache)
    return cache
  }

  beforeEach(() => {
    prefix = uniquePrefix()
    raw = new Redis(testRedisUrl)
  })
  afterEach(async () => {
    for (const cache of opened.splice(0)) await cache.close()
    let cursor = '0'
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await raw.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
    await raw.quit()
  })

  test('keys live under keyPrefix, with PX TTLs', async () => {
    const cache = open(`${prefix}app:`)
    await cache.set('a', 'v', 60_000)
    await cache.increment('n', 1, 60_000)
    expect(await raw.get(`${prefix}app:a`)).toBe('v')
    const ttl = await raw.pttl(`${prefix}app:a`)
    expect(ttl).toBeGreaterThan(59_000)
    expect(ttl).toBeLessThanOrEqual(60_000)
    expect(await raw.pttl(`${prefix}app:n`)).toBeGreaterThan(59_000)
    await raw.set(`${prefix}outside`, 'x')
    expect(await cache.keys('')).toEqual(['a', 'n'])
  })

  test('two instances with different keyPrefix are isolated', async () => {
    const one = open(`${prefix}one:`)
    const two = open(`${prefix}two:`)
    await one.set('k', '1')
    await two.set('k', '2')
    expect(await one.get('k')).toBe('1')
    expect(await two.get('k')).toBe('2')
    expect(await one.tryLock('lock', 5000)).toBeDefined()
    expect(await two.tryLock('lock', 5000)).toBeDefined()
    expect(await one.deleteByPrefix('')).toBe(2)
    expect(await two.keys('')).toEqual(['k', 'lock'])
  })

  test('deleteByPrefix crosses SCAN pages', async () => {
    const cache = open(prefix)
    const pipeline = raw.pipeline()
    for (let i = 0; i < 2500; i++) pipeline.set(`${prefix}bulk:${i}`, '1')
    for (let i = 0; i < 10; i++) pipeline.set(`${prefix}keep:${i}`, '1')
    await pipeline.exec()
    expect((await cache.keys('bulk:')).length).toBe(2500)
    expect(await cache.deleteByPrefix('bulk:')).toBe(2500)
    expect(await cache.keys('')).toHaveLength(10)
  })

  test('a dead Redis makes ping reject fast instead of hanging', async () => {
    const port = await freePort()
    const cache = open(`${prefix}dead:`)
    const dead = new RedisCache({ url: `redis://127.0.0.1:${port}`, keyPrefix: prefix })
    opened.push(dead)
    await cache.ping()
    const started = performance.now()
    await expect(dead.ping()).rejects.toThrow()
    expect(performance.now() - started).toBeLessThan(2000)
  })
})

/** A port nothing listens on (the kernel picked it free a moment ago). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}
