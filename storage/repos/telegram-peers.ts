/**
 * @module `telegram_peers`: the users and chats one Telegram account has seen (mtcute's peers repository).
 * Access hashes, usernames, phone numbers and the TL-serialised objects are sealed (S4, I2); only the peer id,
 * the "min" flag and the update time are in clear.
 *
 * Lookups by username or phone open the account's peers one by one instead of keeping a searchable index of
 * personal data: mtcute only asks for them when a peer is named by username or phone, which the bridge never
 * does (it addresses peers by id), so the cost is not paid on any hot path.
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import type { Queryable } from './common.ts'

const INFO = 'telegram_peers.info'
const COMPLETE = 'telegram_peers.complete'

/** One stored peer, the shape of mtcute's `IPeersRepository.PeerInfo`. */
export interface TelegramPeer {
  /** Marked id (users positive, chats negative, channels -100…). */
  id: number
  accessHash: string
  isMin: boolean
  usernames: string[]
  /** Unix seconds. */
  updated: number
  phone?: string
  complete: Uint8Array
}

interface PeerRow {
  peerId: string
  isMin: boolean
  updated: string
  infoEnc: Buffer
  completeEnc: Buffer
}

interface SealedInfo {
  accessHash: string
  usernames: string[]
  phone?: string
}

export class TelegramPeerRepository {
  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
  ) {}

  async store(accountId: string, peer: TelegramPeer, db: Queryable = this.sql) {
    const info: SealedInfo = {
      accessHash: peer.accessHash,
      usernames: peer.usernames ?? [],
      ...(peer.phone ? { phone: peer.phone } : {}),
    }
    const infoEnc = this.secrets.seal(JSON.stringify(info), INFO)
    const completeEnc = this.secrets.seal(peer.complete, COMPLETE)
    // mtcute leaves the flag and time out on some entries; the row needs both.
    const updated = Number.isFinite(peer.updated) ? peer.updated : Math.floor(Date.now() / 1000)
    await db`
      insert into telegram_peers (account_id, peer_id, is_min, updated, info_enc, complete_enc)
      values (${accountId}, ${peer.id}, ${Boolean(peer.isMin)}, ${updated}, ${infoEnc}, ${completeEnc})
      on conflict (account_id, peer_id) do update set
        is_min = excluded.is_min, updated = excluded.updated,
        info_enc = excluded.info_enc, complete_enc = excluded.complete_enc`
  }

  /** May return a "min" peer (mtcute's contract). */
  async getById(accountId: string, id: number, db: Queryable = this.sql): Promise<TelegramPeer | null> {
    const [row] = await db<PeerRow[]>`
      select peer_id, is_min, updated, info_enc, complete_enc from telegram_peers
      where account_id = ${accountId} and peer_id = ${id}`
    return row ? this.open(row) : null
  }

  /** Never a "min" peer; usernames compare case-insensitively. */
  getByUsername(accountId: string, username: string, db: Queryable = this.sql) {
    const wanted = username.toLowerCase()
    return this.find(accountId, db, (info) => info.usernames.some((u) => u.toLowerCase() === wanted))
  }

  /** Never a "min" peer. */
  getByPhone(accountId: string, phone: string, db: Queryable = this.sql) {
    return this.find(accountId, db, (info) => info.phone === phone)
  }

  /** @returns how many peers were deleted. */
  async deleteAll(accountId: string, db: Queryable = this.sql): Promise<number> {
    return (await db`delete from telegram_peers where account_id = ${accountId}`).count
  }

  private async find(
    accountId: string,
    db: Queryable,
    match: (info: SealedInfo) => boolean,
  ): Promise<TelegramPeer | null> {
    const rows = await db<Omit<PeerRow, 'completeEnc'>[]>`
      select peer_id, is_min, updated, info_enc from telegram_peers
      where account_id = ${accountId} and not is_min order by updated desc`
    for (const row of rows) {
      if (match(this.openInfo(row.infoEnc))) return this.getById(accountId, Number(row.peerId), db)
    }
    return null
  }

  private openInfo(sealed: Buffer): SealedInfo {
    return JSON.parse(this.secrets.openText(sealed, INFO)) as SealedInfo
  }

  private open(row: PeerRow): TelegramPeer {
    const info = this.openInfo(row.infoEnc)
    return {
      id: Number(row.peerId),
      accessHash: info.accessHash,
      isMin: row.isMin,
      usernames: info.usernames,
      updated: Number(row.updated),
      ...(info.phone ? { phone: info.phone } : {}),
      complete: new Uint8Array(this.secrets.open(row.completeEnc, COMPLETE)),
    }
  }
}
