/**
 * @module `stats()` (counters, read by the acceptance verdicts) and `state()` (every chat's messages in
 * order, both directions, with edits, deletes and read flags). Accounts that never did anything are left
 * out of the per-account stats, so 10,000 idle accounts do not bloat them.
 */
import { customerJson, messageJson } from './messages.ts'
import type { Account, Chat, Message } from './types.ts'
import { liveConnections } from './updates.ts'
import type { World } from './world.ts'

/** Outgoing messages repeating an earlier one in the same chat (same text and file content). */
function repeated(chat: Chat): number {
  const seen = new Set<string>()
  let n = 0
  for (const m of chat.messages) {
    if (!m.out || m.fromDevice) continue
    const key = `${m.history?.[0] ?? m.text}\u0000${m.file?.sha256 ?? ''}`
    if (seen.has(key)) n++
    else seen.add(key)
  }
  return n
}

function accountStats(account: Account) {
  const chats: Record<string, { received: number; randomIdHits: number; repeated: number }> = {}
  let repeatedTotal = 0
  for (const [id, chat] of account.chats ?? []) {
    const r = repeated(chat)
    repeatedTotal += r
    if (chat.received > 0 || chat.randomIdHits > 0) {
      chats[id] = { received: chat.received, randomIdHits: chat.randomIdHits, repeated: r }
    }
  }
  let live = 0
  for (const s of account.sessions ?? []) if (s.live) live++
  const c = account.counters
  return {
    phone: account.phone,
    received: c?.received ?? 0,
    randomIdHits: c?.randomIdHits ?? 0,
    repeated: repeatedTotal,
    authKeyDuplicated: c?.authKeyDuplicated ?? 0,
    updatesDelivered: c?.updatesDelivered ?? 0,
    floodWaits: c?.floodWaits ?? 0,
    liveConnections: live,
    sessions: account.sessions?.size ?? 0,
    seq: account.seq,
    chats,
  }
}

export type AccountStats = ReturnType<typeof accountStats>

export function stats(world: World) {
  const perAccount: Record<string, AccountStats> = {}
  let repeatedTotal = 0
  for (const account of world.accounts.values()) {
    if (!account.counters && !account.chats && !account.sessions?.size) continue
    const s = accountStats(account)
    perAccount[account.id] = s
    repeatedTotal += s.repeated
  }
  return {
    accounts: world.accounts.size,
    customers: world.customers.size,
    ...world.counters,
    // A copy: a stats() result is a snapshot, compared with a later one.
    liveClosed: { ...world.counters.liveClosed },
    repeated: repeatedTotal,
    liveConnections: liveConnections(world),
    floodWaits: world.faults.floodWaits,
    droppedResponses: world.faults.droppedResponses,
    filesUploaded: world.files.uploaded,
    bytesUploaded: world.files.bytes,
    perAccount,
  }
}

export type SandboxStats = ReturnType<typeof stats>

function stateMessage(chat: Chat, m: Message) {
  const read = m.out ? m.id <= chat.readOutboxMaxId : m.id <= chat.readInboxMaxId
  return {
    ...messageJson(m),
    read,
    ...(m.deleted ? { deletedBy: m.deleted } : {}),
    ...(m.fromDevice ? { fromDevice: true } : {}),
    ...(m.history ? { history: m.history } : {}),
  }
}

export type StateMessage = ReturnType<typeof stateMessage>

function accountState(account: Account) {
  const now = Date.now()
  return {
    id: account.id,
    phone: account.phone,
    name: account.name,
    seq: account.seq,
    chats: [...(account.chats?.values() ?? [])].map((chat) => ({
      chatId: chat.customer.id,
      customer: customerJson(chat.customer),
      readInboxMaxId: chat.readInboxMaxId,
      readOutboxMaxId: chat.readOutboxMaxId,
      accountTyping: chat.typingUntil > now,
      messages: chat.messages.map((m) => stateMessage(chat, m)),
    })),
  }
}

export type AccountState = ReturnType<typeof accountState>

/** Every account (or only `only`) with its chats; idle accounts appear with no chats. */
export function state(world: World, only?: Account) {
  const accounts = only ? [only] : [...world.accounts.values()]
  return {
    accounts: accounts.map(accountState),
    customers: [...world.customers.values()].map(customerJson),
  }
}

export type SandboxState = ReturnType<typeof state>
