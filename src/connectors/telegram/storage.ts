/**
 * @module mtcute's storage provider for one Telegram account over our PostgreSQL tables
 * (`storage/repos/telegram-*.ts`): every repository is bound to the account id, so many accounts share the
 * schema without seeing each other's rows. Writes are single statements applied at once (mtcute requires it
 * for auth keys), so the driver has nothing to load, batch or close: the pool belongs to the process.
 */
import type { ITelegramStorageProvider } from '@mtcute/core'
import type { TelegramSessionRepository } from '../../../storage/repos/telegram-sessions.ts'

export function telegramStorage(
  repo: TelegramSessionRepository,
  accountId: string,
): ITelegramStorageProvider {
  const { authKeys, kv, peers, refs } = repo
  return {
    driver: {},
    authKeys: {
      set: (dc, key) => authKeys.set(accountId, dc, key),
      get: (dc) => authKeys.get(accountId, dc),
      setTemp: (dc, idx, key, expires) => authKeys.setTemp(accountId, dc, idx, key, expires),
      getTemp: (dc, idx, now) => authKeys.getTemp(accountId, dc, idx, now),
      deleteByDc: (dc) => authKeys.deleteByDc(accountId, dc),
      deleteAll: async () => void (await authKeys.deleteAll(accountId)),
    },
    kv: {
      set: (key, value) => kv.set(accountId, key, value),
      get: (key) => kv.get(accountId, key),
      delete: (key) => kv.delete(accountId, key),
      deleteAll: async () => void (await kv.deleteAll(accountId)),
    },
    peers: {
      store: (peer) => peers.store(accountId, peer),
      getById: (id) => peers.getById(accountId, id),
      getByUsername: (username) => peers.getByUsername(accountId, username),
      getByPhone: (phone) => peers.getByPhone(accountId, phone),
      deleteAll: async () => void (await peers.deleteAll(accountId)),
    },
    refMessages: {
      store: (peerId, chatId, msgId) => refs.store(accountId, peerId, chatId, msgId),
      getByPeer: (peerId) => refs.getByPeer(accountId, peerId),
      delete: (chatId, msgIds) => refs.delete(accountId, chatId, msgIds),
      deleteByPeer: (peerId) => refs.deleteByPeer(accountId, peerId),
      deleteAll: async () => void (await refs.deleteAll(accountId)),
    },
  }
}
