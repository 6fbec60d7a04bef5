/**
 * @module `portals`: installed Bitrix24 portals (I6). Tokens and the local-app secret are sealed here
 * (PRIVACY S4) and handed out in clear only to callers of this module.
 */
import type { SecretBox } from '../../src/crypto/secret-box.ts'
import type { Sql } from '../db.ts'
import { NotFoundError, type Queryable, sealOptional } from './common.ts'

export type PortalStatus = 'active' | 'needs_reauth' | 'uninstalled'
export type RatePlan = 'standard' | 'enterprise'

export interface Portal {
  id: string
  memberId: string
  domain: string
  serverEndpoint: string | null
  clientEndpoint: string | null
  status: PortalStatus
  applicationToken: string | null
  accessToken: string | null
  refreshToken: string | null
  tokenExpiresAt: Date | null
  appClientId: string | null
  appClientSecret: string | null
  ratePlan: RatePlan
  installedAt: Date
  updatedAt: Date
}

interface PortalRow
  extends Omit<Portal, 'applicationToken' | 'accessToken' | 'refreshToken' | 'appClientSecret'> {
  applicationTokenEnc: Buffer | null
  accessTokenEnc: Buffer | null
  refreshTokenEnc: Buffer | null
  appClientSecretEnc: Buffer | null
}

/** Install data; omitted optional fields keep their stored value on a repeated install. */
export interface PortalInput {
  memberId: string
  domain: string
  serverEndpoint?: string | null
  clientEndpoint?: string | null
  applicationToken?: string | null
  accessToken?: string | null
  refreshToken?: string | null
  tokenExpiresAt?: Date | null
  appClientId?: string | null
  appClientSecret?: string | null
  ratePlan?: RatePlan
}

export interface PortalTokens {
  accessToken: string
  refreshToken: string
  expiresAt: Date
}

export class PortalNotFoundError extends NotFoundError {
  override name = 'PortalNotFoundError'
  constructor(key: string) {
    super('portal', key)
  }
}

const CONTEXT = {
  applicationToken: 'portals.application_token',
  accessToken: 'portals.access_token',
  refreshToken: 'portals.refresh_token',
  appClientSecret: 'portals.app_client_secret',
} as const

export class PortalRepository {
  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox,
  ) {}

  /** Creates the portal or refreshes its install data (same `member_id`); a reinstall makes it active. */
  async upsert(input: PortalInput, db: Queryable = this.sql): Promise<{ portal: Portal; created: boolean }> {
    const seal = (field: keyof typeof CONTEXT) => sealOptional((v) => this.#seal(v, field), input[field])
    const [row] = await db<(PortalRow & { created: boolean })[]>`
      insert into portals (
        member_id, domain, server_endpoint, client_endpoint, application_token_enc, access_token_enc,
        refresh_token_enc, token_expires_at, app_client_id, app_client_secret_enc, rate_plan
      ) values (
        ${input.memberId}, ${input.domain}, ${input.serverEndpoint ?? null}, ${input.clientEndpoint ?? null},
        ${seal('applicationToken') ?? null}, ${seal('accessToken') ?? null}, ${seal('refreshToken') ?? null},
        ${input.tokenExpiresAt ?? null}, ${input.appClientId ?? null}, ${seal('appClientSecret') ?? null},
        ${input.ratePlan ?? 'standard'}
      )
      on conflict (member_id) do update set
        domain = excluded.domain,
        server_endpoint = coalesce(excluded.server_endpoint, portals.server_endpoint),
        client_endpoint = coalesce(excluded.client_endpoint, portals.client_endpoint),
        application_token_enc = coalesce(excluded.application_token_enc, portals.application_token_enc),
        access_token_enc = coalesce(excluded.access_token_enc, portals.access_token_enc),
        refresh_token_enc = coalesce(excluded.refresh_token_enc, portals.refresh_token_enc),
        token_expires_at = coalesce(excluded.token_expires_at, portals.token_expires_at),
        app_client_id = coalesce(excluded.app_client_id, portals.app_client_id),
        app_client_secret_enc = coalesce(excluded.app_client_secret_enc, portals.app_client_secret_enc),
        rate_plan = coalesce(${input.ratePlan ?? null}::text, portals.rate_plan),
        status = 'active',
        updated_at = now()
      returning *, (xmax = 0) as created`
    const { created, ...portal } = row!
    return { portal: this.#open(portal), created }
  }

  /** @throws PortalNotFoundError */
  async get(id: string, db: Queryable = this.sql): Promise<Portal> {
    const [row] = await db<PortalRow[]>`select * from portals where id = ${id}`
    if (!row) throw new PortalNotFoundError(id)
    return this.#open(row)
  }

  async findByMemberId(memberId: string, db: Queryable = this.sql): Promise<Portal | undefined> {
    const [row] = await db<PortalRow[]>`select * from portals where member_id = ${memberId}`
    return row && this.#open(row)
  }

  /** @throws PortalNotFoundError */
  async getByMemberId(memberId: string, db: Queryable = this.sql): Promise<Portal> {
    const portal = await this.findByMemberId(memberId, db)
    if (!portal) throw new PortalNotFoundError(memberId)
    return portal
  }

  async list(db: Queryable = this.sql): Promise<Portal[]> {
    const rows = await db<PortalRow[]>`select * from portals order by installed_at, id`
    return rows.map((row) => this.#open(row))
  }

  /** Stores a refreshed OAuth pair; a portal that needed re-authorisation becomes active again. */
  async updateTokens(id: string, tokens: PortalTokens, db: Queryable = this.sql): Promise<void> {
    const result = await db`
      update portals set
        access_token_enc = ${this.#seal(tokens.accessToken, 'accessToken')},
        refresh_token_enc = ${this.#seal(tokens.refreshToken, 'refreshToken')},
        token_expires_at = ${tokens.expiresAt},
        status = case when status = 'needs_reauth' then 'active' else status end,
        updated_at = now()
      where id = ${id}`
    if (result.count === 0) throw new PortalNotFoundError(id)
  }

  async setAppCredentials(
    id: string,
    credentials: { clientId: string; clientSecret: string },
    db: Queryable = this.sql,
  ): Promise<void> {
    const result = await db`
      update portals set
        app_client_id = ${credentials.clientId},
        app_client_secret_enc = ${this.#seal(credentials.clientSecret, 'appClientSecret')},
        updated_at = now()
      where id = ${id}`
    if (result.count === 0) throw new PortalNotFoundError(id)
  }

  async setStatus(id: string, status: PortalStatus, db: Queryable = this.sql): Promise<void> {
    const result = await db`update portals set status = ${status}, updated_at = now() where id = ${id}`
    if (result.count === 0) throw new PortalNotFoundError(id)
  }

  /** Deletes the portal and, by cascade, every row of it (D3, D4). @returns whether it existed. */
  async delete(id: string, db: Queryable = this.sql): Promise<boolean> {
    const result = await db`delete from portals where id = ${id}`
    return result.count > 0
  }

  #seal(plain: string, field: keyof typeof CONTEXT): Buffer {
    return this.secrets.seal(plain, CONTEXT[field])
  }

  #open(row: PortalRow): Portal {
    const open = (value: Buffer | null, field: keyof typeof CONTEXT) =>
      value === null ? null : this.secrets.openText(value, CONTEXT[field])
    const { applicationTokenEnc, accessTokenEnc, refreshTokenEnc, appClientSecretEnc, ...rest } = row
    return {
      ...rest,
      applicationToken: open(applicationTokenEnc, 'applicationToken'),
      accessToken: open(accessTokenEnc, 'accessToken'),
      refreshToken: open(refreshTokenEnc, 'refreshToken'),
      appClientSecret: open(appClientSecretEnc, 'appClientSecret'),
    }
  }
}
