/**
 * @module The mixed burst of the crash test and its verdict. Customers write at the messenger and operators
 * post on the portal at once, several writers per side, each chat's messages strictly one after another
 * (so the order each side must show is the order they were written). Texts carry a marker
 * `cu:<chat>:<n>` / `op:<chat>:<n>` the verdict reads back from the emulators' state.
 */
import type { CrashWorld } from './world.ts'

export interface BurstPlan {
  /** Messages in all, both directions. */
  total: number
  chats: number
  /** Concurrent writers per side. */
  writers: number
  /** Run after each segment but the last, while the next segment is already being written. */
  disruptions: Array<() => Promise<void>>
}

export interface BurstOutcome {
  /** `chat:n` of every customer message written (the messenger accepted each). */
  customerWritten: Set<string>
  /** Operator messages whose event the portal delivered to Olchat (`ok`). */
  operatorAccepted: Set<string>
  /** Operator messages whose event failed (Olchat down or failing): the portal kept them, Olchat may not. */
  operatorRefused: number
  /** `chat:n` → how its event failed (status or error, time taken), for whoever reads a failure. */
  operatorRefusals: Map<string, string>
  burstMs: number
}

/** The parts of the emulator's delivery record a refusal report shows. */
interface RefusalRecord {
  ok: boolean
  status: number | null
  error: string | null
  latencyMs: number
}

const customerText = (chat: number, n: number) => `cu:${chat}:${n} hello from the customer`
const operatorText = (chat: number, n: number) => `op:${chat}:${n} answer from the operator`
const MARKER = /\b(cu|op):(\d+):(\d+)\b/

/** Splits `items` into `parts` runs of nearly equal length. */
function segments<T>(items: T[], parts: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < parts; i++) {
    out.push(
      items.slice(Math.round((i * items.length) / parts), Math.round(((i + 1) * items.length) / parts)),
    )
  }
  return out
}

/** Runs `tasks` with `writers` workers; worker w takes the tasks of chats with `chat % writers === w`. */
async function runByChat<T extends { chat: number }>(
  tasks: T[],
  writers: number,
  run: (task: T) => Promise<void>,
): Promise<void> {
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (const task of tasks) if (task.chat % writers === w) await run(task)
    }),
  )
}

export async function runBurst(world: CrashWorld, plan: BurstPlan): Promise<BurstOutcome> {
  const { chats, writers } = plan
  const customerTotal = Math.ceil(plan.total / 2)
  const operatorTotal = plan.total - customerTotal
  const nextCustomer = new Array<number>(chats).fill(0)
  const nextOperator = new Array<number>(chats).fill(0)
  const outcome: BurstOutcome = {
    customerWritten: new Set(),
    operatorAccepted: new Set(),
    operatorRefused: 0,
    operatorRefusals: new Map(),
    burstMs: 0,
  }
  const sendCustomer = async ({ chat }: { chat: number }) => {
    const n = nextCustomer[chat]!++
    await world.side.customerSend(chat, customerText(chat, n))
    outcome.customerWritten.add(`${chat}:${n}`)
  }
  const started = performance.now()
  // Every chat opens with a customer message: the portal chat the operators write in exists after it.
  await runByChat(
    Array.from({ length: chats }, (_, chat) => ({ chat })),
    writers,
    sendCustomer,
  )
  const portalChat = await portalChatIds(world, chats)
  const postOperator = async ({ chat }: { chat: number }) => {
    const n = nextOperator[chat]!++
    const text = operatorText(chat, n)
    try {
      const posted = await world.portal<{ deliveries: RefusalRecord[] }>('post-operator-message', {
        chatId: portalChat.get(chat),
        text,
      })
      if (posted.deliveries.length > 0 && posted.deliveries.every((d) => d.ok)) {
        outcome.operatorAccepted.add(`${chat}:${n}`)
      } else {
        outcome.operatorRefused++
        const why = posted.deliveries.map((d) => `${d.status ?? d.error} in ${d.latencyMs} ms`).join('; ')
        outcome.operatorRefusals.set(`${chat}:${n}`, why || 'no handler')
      }
    } catch (error) {
      outcome.operatorRefused++
      outcome.operatorRefusals.set(`${chat}:${n}`, String(error))
    }
  }
  const customerTasks = Array.from({ length: Math.max(0, customerTotal - chats) }, (_, i) => ({
    chat: i % chats,
  }))
  const operatorTasks = Array.from({ length: operatorTotal }, (_, i) => ({ chat: i % chats }))
  const parts = plan.disruptions.length + 1
  const customerParts = segments(customerTasks, parts)
  const operatorParts = segments(operatorTasks, parts)
  let disrupted: Promise<void> = Promise.resolve()
  for (let p = 0; p < parts; p++) {
    const writing = Promise.all([
      runByChat(customerParts[p]!, writers, sendCustomer),
      runByChat(operatorParts[p]!, writers, postOperator),
    ])
    await writing
    // The previous disruption must be over before the next one (a kill needs the account back first).
    await disrupted
    const disruption = plan.disruptions[p]
    if (disruption) disrupted = disruption()
  }
  await disrupted
  outcome.burstMs = Math.round(performance.now() - started)
  return outcome
}

/** Portal chat id of each customer chat, read from the first customer message's marker. */
async function portalChatIds(world: CrashWorld, chats: number): Promise<Map<number, number>> {
  const found = new Map<number, number>()
  const deadline = Date.now() + 120_000
  while (found.size < chats) {
    for (const chat of await world.portalChats()) {
      for (const m of chat.messages) {
        const marker = MARKER.exec(m.text)
        if (m.author === 'client' && marker?.[1] === 'cu') found.set(Number(marker[2]), chat.id)
      }
    }
    if (found.size >= chats) break
    if (Date.now() > deadline) throw new Error(`only ${found.size} of ${chats} portal chats appeared`)
    await Bun.sleep(200)
  }
  return found
}

export interface SideVerdict {
  /** Messages that must be there and are not. */
  missing: number
  /** Extra copies of a message. */
  duplicates: number
  /** Chats whose first copies are not in the order written. */
  outOfOrderChats: number
  /** Each break of order: `chat <c>: <n> after <m>`. */
  disorders: string[]
  /** Copies seen in all. */
  seen: number
}

/** Reads markers of one kind out of per-chat message texts and judges them against `expected`. */
export function judge(
  chats: Array<{ chat: number; texts: string[] }>,
  kind: 'cu' | 'op',
  expected: Set<string>,
): SideVerdict {
  const verdict: SideVerdict = { missing: 0, duplicates: 0, outOfOrderChats: 0, disorders: [], seen: 0 }
  const seen = new Set<string>()
  for (const { texts } of chats) {
    let last = -1
    let ordered = true
    for (const text of texts) {
      const marker = MARKER.exec(text)
      if (!marker || marker[1] !== kind) continue
      const key = `${marker[2]}:${marker[3]}`
      verdict.seen++
      if (seen.has(key)) {
        verdict.duplicates++
        continue
      }
      seen.add(key)
      const n = Number(marker[3])
      if (n <= last) {
        ordered = false
        verdict.disorders.push(`chat ${marker[2]}: ${n} after ${last}`)
      }
      last = n
    }
    if (!ordered) verdict.outOfOrderChats++
  }
  for (const key of expected) if (!seen.has(key)) verdict.missing++
  return verdict
}
