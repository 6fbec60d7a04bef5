/**
 * @module Helpers of the emulator's own conformance tests: a plain fetch client of the Bot API that keeps the raw
 * body text (to check int64 literals), and a webhook sink that records what MAX would POST. Independent of Olchat.
 */

export interface Answer {
  status: number
  text: string
  // biome-ignore lint/suspicious/noExplicitAny: answers are read loosely in tests
  body: any
  headers: Headers
}

export async function call(
  base: string,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const h: Record<string, string> = { ...headers }
  if (token !== null) h.authorization = token
  if (body !== undefined) h['content-type'] = 'application/json'
  const res = await fetch(`${base}${path}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {}
  return { status: res.status, text, body: parsed, headers: res.headers }
}

export interface Delivery {
  path: string
  headers: Headers
  text: string
  // biome-ignore lint/suspicious/noExplicitAny: deliveries are read loosely in tests
  body: any
  at: number
}

export interface Sink {
  url: string
  received: Delivery[]
  /** Status codes to answer, in turn; 200 once they run out. */
  answers: number[]
  waitFor(count: number, timeoutMs?: number): Promise<Delivery[]>
  stop(): Promise<void>
}

export function startSink(): Sink {
  const received: Delivery[] = []
  const answers: number[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      const text = await req.text()
      received.push({
        path: new URL(req.url).pathname,
        headers: req.headers,
        text,
        body: JSON.parse(text),
        at: Date.now(),
      })
      return new Response('ok', { status: answers.shift() ?? 200 })
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}/max/webhook`,
    received,
    answers,
    async waitFor(count, timeoutMs = 3000) {
      const until = Date.now() + timeoutMs
      while (received.length < count) {
        if (Date.now() > until) throw new Error(`waited for ${count} deliveries, got ${received.length}`)
        await Bun.sleep(5)
      }
      return received
    },
    stop: () => server.stop(true),
  }
}
