import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import * as samples from './samples.ts'
import {
  countAllRows,
  createHarness,
  FORM,
  type Harness,
  type InstalledPortal,
  install,
  post,
} from './support.ts'

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number) {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!
  return { next, int, pick }
}

const SEED = 0x0c4a7
const COUNT = 1200

let h: Harness
let p: InstalledPortal
beforeAll(async () => {
  h = await createHarness()
  p = await install(h)
  const line = await h.repos.lines.upsert({ portalId: p.id, connectorId: 'olchat_telegram', lineId: '12' })
  await h.repos.accounts.create({ portalId: p.id, messenger: 'telegram', lineId: line.id })
})
afterAll(() => h.close())

/** Bodies that are malformed or unauthenticated by construction, many of them with the right token. */
function generate(seed: number, count: number): { body: string; contentType: string }[] {
  const r = prng(seed)
  const auth = { memberId: p.memberId, appToken: p.appToken }
  const valid = [
    samples.messageAdd(auth),
    samples.messageUpdate(auth),
    samples.messageDelete(auth),
    samples.dialog(auth, 'START'),
    samples.statusDelete(auth),
    samples.lineDelete(auth),
    samples.appUpdate(auth),
    samples.appUninstall(auth),
  ]
  const junkChars = [
    '[',
    ']',
    '%',
    '&',
    '=',
    '%5B',
    '%5D',
    '%ZZ',
    '%E0%A4',
    '%uD800',
    '+',
    '\u0439',
    '\ud83d\ude00',
  ]
  const junk = (n: number) =>
    Array.from({ length: n }, () => r.pick(junkChars) + r.int(100).toString(36)).join('')
  const huge = (n: number) => 'x'.repeat(n)
  const breakers: ((body: string) => string)[] = [
    // A required scalar that is not digits.
    (b) => b.replace(/ts=\d+/, `ts=${junk(3)}x`),
    (b) =>
      b.replace(/(data%5BLINE%5D|data%5Bline%5D|data)=\d+/, `$1=${r.pick(['', '-1', '12a', '1e3', ' 12'])}`),
    // Duplicate keys become arrays where a string is expected.
    (b) => `${b}&event=ONAPPUPDATE`,
    (b) => `${b}&ts=${r.int(1e9)}`,
    // Array index past the limit, nesting past the depth.
    (b) => `${b}&data%5BMESSAGES%5D%5B${1000 + r.int(1e6)}%5D%5Bim%5D%5Bchat_id%5D=1`,
    (b) => `${b}&${'a'}${'%5Bx%5D'.repeat(11 + r.int(20))}=1`,
    (b) => `${b}&${Array.from({ length: 11 + r.int(5) }, () => '[k]').join('')}=1`,
    // A NUL byte, raw or encoded.
    (b) => b.replace('ts=', r.pick(['ts=%00', 'ts=1\u0000'])),
    // An unknown or missing event name.
    (b) => b.replace(/^event=[A-Z]+/, `event=${r.pick(['', 'ONAPPTEST', 'onimconnector', junk(2)])}`),
    (b) => b.replace(/^event=[A-Z]+&/, ''),
    // Huge values past the field limits (some past the body limit: 413).
    (b) => b.replace(/ts=\d+/, `ts=${'9'.repeat(20 + r.int(1000))}`),
    (b) => b.replace(/(%5Bmessage%5D%5Btext%5D=)[^&]*/, `$1${huge(100_001 + r.int(3_000_000))}`),
    (b) => b.replace(/auth%5Bmember_id%5D=[^&]+/, `auth%5Bmember_id%5D=${huge(129 + r.int(5000))}`),
    // Objects or arrays where scalars belong, scalars where objects belong.
    (b) => b.replace(/data%5BCONNECTOR%5D=/, 'data%5BCONNECTOR%5D%5B%5D='),
    (b) => b.replace(/data%5BMESSAGES%5D%5B0%5D%5Bim%5D%5Bchat_id%5D=/, 'data%5BMESSAGES%5D%5B0%5D%5Bim%5D='),
    (b) => `${b}&data=${junk(2)}`,
    (b) => b.replace('%5Bim%5D%5Bmessage_id%5D=', '%5Bim%5D%5Bmessage_id%5D%5Bx%5D='),
    // Truncated: the application token (last) is cut or gone.
    (b) => b.slice(0, 1 + r.int(b.length - 2)),
    // A forged token on an otherwise valid event.
    (b) => b.replace(p.appToken, r.pick(['', 'x', p.appToken.slice(1), `${p.appToken}x`, junk(4)])),
    // Another portal's member id.
    (b) => b.replace(p.memberId, `${p.memberId}0`),
  ]
  const garbage: (() => string)[] = [
    () => junk(1 + r.int(60)),
    () => Array.from({ length: 1 + r.int(40) }, () => `${junk(1 + r.int(4))}=${junk(r.int(4))}`).join('&'),
    () => `event=ONIMCONNECTORMESSAGEADD&${junk(10 + r.int(50))}`,
    () =>
      Array.from({ length: 1 + r.int(300) }, (_, i) => `data[MESSAGES][${i}][${junk(1)}]=${junk(1)}`).join(
        '&',
      ),
    () => '&'.repeat(r.int(20)) + '='.repeat(r.int(20)),
    () => String.fromCharCode(...Array.from({ length: 1 + r.int(200) }, () => r.int(0xffff))),
    () => `${'a=1&'.repeat(10_001)}event=ONAPPUPDATE`,
  ]
  const bodies: { body: string; contentType: string }[] = []
  for (let i = 0; i < count; i++) {
    const roll = r.next()
    const contentType =
      r.next() < 0.04
        ? r.pick(['application/json', 'text/plain', 'multipart/form-data', ''])
        : FORM['content-type']
    if (roll < 0.7) {
      // A breaker on a valid sample: malformed or unauthenticated by construction.
      // A breaker that finds nothing to break in this sample falls back to one that always breaks.
      const breakOnce = (b: string) => {
        const out = r.pick(breakers)(b)
        return out === b ? `${b}&ts=${r.int(9)}` : out
      }
      // One breaker per body: two could undo each other (drop the event name, then add one back).
      bodies.push({ body: breakOnce(r.pick(valid)), contentType })
    } else {
      bodies.push({ body: r.pick(garbage)(), contentType })
    }
  }
  return bodies
}

describe('fuzz: generated malformed and forged event bodies', () => {
  test(`${COUNT} bodies: every answer is 4xx, no row is written, the app stays healthy`, async () => {
    const before = await countAllRows(h.sql)
    const statuses = new Map<number, number>()
    const bodies = generate(SEED, COUNT)
    for (const [index, { body, contentType }] of bodies.entries()) {
      const headers: Record<string, string> = contentType ? { 'content-type': contentType } : {}
      const res = await post(h, '/bitrix/events', body, headers)
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
      if (res.status < 400 || res.status >= 500) {
        throw new Error(
          `body #${index} (seed ${SEED}) answered ${res.status}: ${body.slice(0, 200)} … ${body.slice(-200)}`,
        )
      }
      await res.arrayBuffer()
    }
    expect(await countAllRows(h.sql)).toEqual(before)
    expect((await h.repos.portals.get(p.id)).status).toBe('active')
    // Every refusal class occurred (the generator is not accidentally one-sided).
    for (const status of [400, 401, 413, 415]) expect(statuses.get(status) ?? 0).toBeGreaterThan(0)

    const health = await h.app.request('/healthz')
    expect(health.status).toBe(200)
    const ok = await post(
      h,
      '/bitrix/events',
      samples.messageAdd({ memberId: p.memberId, appToken: p.appToken }),
    )
    expect(ok.status).toBe(200)
    expect(await h.process()).toBe(1)
  }, 120_000)
})
