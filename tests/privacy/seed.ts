/**
 * @module A busy portal in every store, written through the repositories and raw SQL (never through the
 * privacy code under test): settings, a Telegram account with sealed secrets and session, two contacts
 * with chats, messages, queued bodies with files, a pending operator event, analytics, Telegram session
 * tables, a scoped API token, a retention deadline, cache keys and objects.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { Repositories } from '../../storage/repos/index.ts'
import type { PrivacyStores } from './stores.ts'
import { putText } from './stores.ts'

let counter = 0

export interface SeededContact {
  id: string
  remoteId: string
  username: string
  phone: string
  firstName: string
  chatId: string
  remoteChatId: string
  objectKeys: string[]
}

export interface SeededPortal {
  portalId: string
  memberId: string
  domain: string
  accountId: string
  accountPhone: string
  contacts: [SeededContact, SeededContact]
  /** Personal values that must not survive a deletion anywhere (rows, receipts, audit). */
  secrets: string[]
  cacheKeys: string[]
  objectKeys: string[]
}

export async function seedBusyPortal(stores: PrivacyStores, repos: Repositories): Promise<SeededPortal> {
  // Digits of one width: no seeded value is a prefix of another (scans search rows for them as text).
  const n = `${process.pid % 100_000}`.padStart(5, '0') + `${++counter}`.padStart(3, '0')
  const memberId = `member-${n}`
  const domain = `portal-${n}.bitrix24.ru`
  const { portal } = await repos.portals.upsert({
    memberId,
    domain,
    clientEndpoint: `https://${domain}/rest/`,
    applicationToken: `app-token-${n}`,
    accessToken: `access-${n}`,
    refreshToken: `refresh-${n}`,
  })
  const line = await repos.lines.upsert({
    portalId: portal.id,
    connectorId: 'olchat_telegram',
    lineId: `7${n}`,
  })
  const accountPhone = `+7900${n.padStart(7, '0').slice(-7)}`
  const account = await repos.accounts.create({
    portalId: portal.id,
    messenger: 'telegram',
    lineId: line.id,
    phone: accountPhone,
    credentials: `session-secret-${n}`,
  })
  await repos.accounts.updateProfile(account.id, {
    remoteId: `10${n}`,
    displayName: `Company Account ${n}`,
    username: `company_${n}`,
  })
  // The employee its owner's own messages are shown as (I6).
  await repos.accounts.setEmployee(account.id, `2${n}`)
  await repos.accountSessions.set(account.id, 'auth_key', `key-bytes-${n}`)
  await stores.db.sql`
    insert into telegram_auth_keys (account_id, dc, key_enc) values (${account.id}, 2, ${Buffer.from('sealed')})`
  await stores.db.sql`
    insert into telegram_kv (account_id, key, value_enc) values (${account.id}, 'state', ${Buffer.from('sealed')})`
  await repos.analytics.increment({ portalId: portal.id, accountId: account.id, day: new Date(), inbound: 2 })
  await stores.db.sql`
    insert into api_tokens (token_hash, role, portal_id)
    values (${createHash('sha256').update(randomUUID()).digest()}, 'portal-admin', ${portal.id})`

  const contacts: SeededContact[] = []
  for (const which of ['a', 'b']) {
    const remoteId = `5${n}${which === 'a' ? 1 : 2}`
    const phone = `+7911${remoteId.padStart(7, '0').slice(-7)}`
    const contact = await repos.contacts.upsert(account.id, {
      remoteId,
      firstName: `Ivan${which}${n}`,
      lastName: `Petrov${which}${n}`,
      username: `ivan_${which}_${n}`,
      phone,
      avatarKey: `p/${portal.id}/a/${account.id}/in/avatar-${remoteId}`,
    })
    const chat = await repos.chats.upsert({
      accountId: account.id,
      remoteChatId: remoteId,
      contactId: contact.id,
    })
    await repos.chats.setPortalChatId(chat.id, `chat${remoteId}`)
    await repos.messages.recordInbound({
      accountId: account.id,
      chatId: chat.id,
      originId: `m1-${remoteId}`,
      sentAt: new Date(),
    })
    const fileKey = `p/${portal.id}/a/${account.id}/in/${randomUUID()}`
    await putText(stores.files, fileKey)
    await putText(stores.files, contact.avatarKey!)
    await repos.deliveries.enqueue({
      accountId: account.id,
      chatId: chat.id,
      direction: 'to_portal',
      kind: 'message',
      idempotencyKey: `in:${account.id}:${remoteId}:m1`,
      payload: {
        chat: { id: remoteId },
        user: { id: remoteId, name: `Ivan${which}${n}`, pictureKey: contact.avatarKey },
        message: {
          id: `m1-${remoteId}`,
          date: 1,
          text: `hello from ${which} ${n}`,
          files: [{ objectKey: fileKey, name: 'a.jpg' }],
        },
      },
    })
    await repos.inboundEvents.insert({
      portalId: portal.id,
      event: 'ONIMCONNECTORMESSAGEADD',
      dedupKey: `dedup-${remoteId}`,
      orderKey: `order-${remoteId}`,
      payload: {
        event: 'ONIMCONNECTORMESSAGEADD',
        data: {
          CONNECTOR: 'olchat_telegram',
          LINE: line.lineId,
          MESSAGES: [{ chat: { id: remoteId }, message: { text: `reply to ${which} ${n}` } }],
        },
      },
    })
    await stores.db.sql`
      insert into telegram_peers (account_id, peer_id, is_min, updated, info_enc, complete_enc)
      values (${account.id}, ${remoteId}, false, 1, ${Buffer.from('sealed')}, ${Buffer.from('sealed')})`
    await stores.db.sql`
      insert into telegram_message_refs (account_id, peer_id, chat_id, msg_id)
      values (${account.id}, ${remoteId}, ${remoteId}, 1)`
    await stores.db.sql`
      insert into telegram_message_chats (account_id, msg_id, chat_id) values (${account.id}, ${Number(remoteId.slice(-6))}, ${remoteId})`
    await repos.retentionDeadlines.schedule({
      dataClass: 'R6',
      subjectType: 'contact',
      subjectId: contact.id,
      dueAt: new Date(Date.now() + 86_400_000),
    })
    contacts.push({
      id: contact.id,
      remoteId,
      username: contact.username!,
      phone,
      firstName: contact.firstName!,
      chatId: chat.id,
      remoteChatId: remoteId,
      objectKeys: [fileKey, contact.avatarKey!],
    })
  }
  const cacheKeys = [
    `p:${portal.id}:a:${account.id}:contacts`,
    `bitrix:bucket:${portal.id}`,
    `bitrix:refresh:${portal.id}`,
  ]
  for (const key of cacheKeys) await stores.cache.set(key, '1')
  return {
    portalId: portal.id,
    memberId,
    domain,
    accountId: account.id,
    accountPhone,
    contacts: contacts as [SeededContact, SeededContact],
    secrets: [memberId, domain, accountPhone, ...contacts.flatMap((c) => [c.phone, c.username, c.firstName])],
    cacheKeys,
    objectKeys: contacts.flatMap((c) => c.objectKeys).sort(),
  }
}
