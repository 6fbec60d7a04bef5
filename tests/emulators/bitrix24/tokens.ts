/**
 * @module Access/refresh token pairs and authorization codes of the OAuth server (§3). Refresh tokens are
 * single use: rotating a pair kills the used refresh token and its sibling access token (§3.2, old docs — the
 * safe assumption of §11.2).
 */
import { randomToken } from './state.ts'

export interface TokenPair {
  accessToken: string
  refreshToken: string
  memberId: string
  clientId: string
  userId: number
  issuedAt: number
  expiresAt: number
  refreshExpiresAt: number
  /** `rotated`: its refresh token was used; `revoked`: the app was uninstalled. */
  access: 'live' | 'rotated' | 'revoked'
  /** `used`: rotated already; `dead`: killed by the test; `revoked`: the app was uninstalled. */
  refresh: 'live' | 'used' | 'dead' | 'revoked'
}

export interface AuthCode {
  code: string
  memberId: string
  clientId: string
  userId: number
  expiresAt: number
  used: boolean
}

export type AccessCheck =
  | { ok: true; pair: TokenPair }
  | { ok: false; error: 'expired_token' | 'invalid_token' }

interface Filter {
  memberId: string
  clientId?: string
  userId?: number
}

export class TokenStore {
  private readonly byAccess = new Map<string, TokenPair>()
  private readonly byRefresh = new Map<string, TokenPair>()
  private readonly codes = new Map<string, AuthCode>()

  constructor(
    public accessTtlSeconds: number,
    public refreshTtlSeconds: number,
  ) {}

  issue(memberId: string, clientId: string, userId: number): TokenPair {
    const now = Date.now()
    const pair: TokenPair = {
      accessToken: randomToken(),
      refreshToken: randomToken(),
      memberId,
      clientId,
      userId,
      issuedAt: now,
      expiresAt: now + this.accessTtlSeconds * 1000,
      refreshExpiresAt: now + this.refreshTtlSeconds * 1000,
      access: 'live',
      refresh: 'live',
    }
    this.byAccess.set(pair.accessToken, pair)
    this.byRefresh.set(pair.refreshToken, pair)
    return pair
  }

  findRefresh(token: string): TokenPair | undefined {
    return this.byRefresh.get(token)
  }

  /**
   * §3.3: an expired token answers `expired_token`; unknown, rotated-away and uninstall-revoked tokens answer
   * `invalid_token` (§11.1 leaves the choice open; the JS SDK refreshes on both).
   */
  checkAccess(token: string): AccessCheck {
    const pair = this.byAccess.get(token)
    if (!pair) return { ok: false, error: 'invalid_token' }
    if (pair.access !== 'live') return { ok: false, error: 'invalid_token' }
    if (pair.expiresAt <= Date.now()) return { ok: false, error: 'expired_token' }
    return { ok: true, pair }
  }

  /** §3.2 rotation: the used refresh token and its sibling access token die, a new pair is issued. */
  rotate(pair: TokenPair): TokenPair {
    pair.refresh = 'used'
    pair.access = 'rotated'
    return this.issue(pair.memberId, pair.clientId, pair.userId)
  }

  private matching(filter: Filter): TokenPair[] {
    return [...this.byAccess.values()].filter(
      (p) =>
        p.memberId === filter.memberId &&
        (filter.clientId === undefined || p.clientId === filter.clientId) &&
        (filter.userId === undefined || p.userId === filter.userId),
    )
  }

  /** Test control: every live access token of the portal expires now. Returns how many. */
  expireAccess(filter: Filter): number {
    const now = Date.now()
    let n = 0
    for (const p of this.matching(filter)) {
      if (p.access === 'live' && p.expiresAt > now) {
        p.expiresAt = now - 1
        n++
      }
    }
    return n
  }

  /** Test control: live refresh tokens stop working (`invalid_grant`), e.g. the 180-day expiry. */
  killRefresh(filter: Filter): number {
    let n = 0
    for (const p of this.matching(filter)) {
      if (p.refresh === 'live') {
        p.refresh = 'dead'
        n++
      }
    }
    return n
  }

  /** §2.5: uninstall revokes API access. */
  revokeInstall(memberId: string, clientId: string): void {
    for (const p of this.matching({ memberId, clientId })) {
      if (p.access === 'live') p.access = 'revoked'
      if (p.refresh === 'live') p.refresh = 'revoked'
    }
  }

  /** §3.1: authorization codes live 30 s. */
  issueCode(memberId: string, clientId: string, userId: number): AuthCode {
    const code: AuthCode = {
      code: randomToken(),
      memberId,
      clientId,
      userId,
      expiresAt: Date.now() + 30_000,
      used: false,
    }
    this.codes.set(code.code, code)
    return code
  }

  findCode(code: string): AuthCode | undefined {
    return this.codes.get(code)
  }
}
