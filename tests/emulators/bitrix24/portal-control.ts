/**
 * @module The test-side control of one portal: every operator/admin/lifecycle action as an async method. The
 * HTTP control API (`control.ts`) and the in-process handle (`index.ts`) both call these, so they cannot
 * drift apart.
 */
import type { Emulator } from './context.ts'
import { drainEvents } from './events.ts'
import * as lifecycle from './lifecycle.ts'
import { tokenResponse } from './oauth.ts'
import * as operator from './operator.ts'
import { type Portal, portalState } from './state.ts'

export interface PortalInfo {
  memberId: string
  domain: string
  url: string
  clientEndpoint: string
  controlUrl: string
  oauthUrl: string
  serverEndpoint: string
  /** Base of the first incoming webhook, `<portal>/rest/<user>/<code>/` (§4.1). */
  webhookUrl: string | null
}

export interface LimitsInput {
  drainPerSecond?: number
  burst?: number
  countRejected?: boolean
  /** Empty the bucket now. */
  resetBucket?: boolean
  operationLimitSeconds?: number
  operationBucketMs?: number
  operationCostSeconds?: number | Record<string, number> | null
  /** Forget the execution time summed so far. */
  resetOperations?: boolean
}

export class PortalControl {
  constructor(
    readonly emu: Emulator,
    readonly portal: Portal,
  ) {}

  info(): PortalInfo {
    const [hook] = this.portal.webhooks
    return {
      memberId: this.portal.memberId,
      domain: this.portal.domain,
      url: this.portal.url,
      clientEndpoint: this.portal.clientEndpoint,
      controlUrl: `${this.portal.url}/_emulator`,
      oauthUrl: this.emu.oauthUrl,
      serverEndpoint: this.emu.serverEndpoint,
      webhookUrl: hook ? `${this.portal.url}/rest/${hook.replace('|', '/')}/` : null,
    }
  }

  install(input: lifecycle.InstallInput = {}) {
    return lifecycle.install(this.emu, this.portal, input)
  }

  async finishInstall(input: { clientId?: string } = {}) {
    return lifecycle.finishInstall(this.emu, this.portal, input.clientId)
  }

  openApp(input: { url: string; userId?: number; clientId?: string }) {
    return lifecycle.openApp(this.emu, this.portal, input)
  }

  openPlacement(input: lifecycle.PlacementInput) {
    return lifecycle.openPlacement(this.emu, this.portal, input)
  }

  updateApp(input: { clientId?: string; version?: number; userId?: number } = {}) {
    return lifecycle.updateApp(this.emu, this.portal, input)
  }

  uninstall(input: { clientId?: string; clean?: boolean } = {}) {
    return lifecycle.uninstall(this.emu, this.portal, input)
  }

  async connectLine(input: { connector: string; line: number }) {
    return operator.connectLine(this.portal, input)
  }

  disconnectLine(input: { connector: string; line: number; userId?: number }) {
    return operator.disconnectLine(this.emu, this.portal, input)
  }

  async addLine(input: { name: string; id?: number }) {
    return operator.addLine(this.portal, input)
  }

  deleteLine(input: { line: number; userId?: number }) {
    return operator.deleteLine(this.emu, this.portal, input)
  }

  postOperatorMessage(input: operator.OperatorMessageInput) {
    return operator.postOperatorMessage(this.emu, this.portal, input)
  }

  editOperatorMessage(input: { messageId: number; text: string; userId?: number }) {
    return operator.editOperatorMessage(this.emu, this.portal, input)
  }

  deleteOperatorMessage(input: { messageId: number; userId?: number }) {
    return operator.deleteOperatorMessage(this.emu, this.portal, input)
  }

  closeSession(input: { chatId: number; userId?: number; byAgent?: boolean }) {
    return operator.closeSession(this.emu, this.portal, input)
  }

  async requestRating(input: { chatId: number }) {
    return operator.requestRating(this.portal, input)
  }

  /** Every live access token of the portal (optionally one app/user) expires now. */
  async expireAccessTokens(input: { clientId?: string; userId?: number } = {}) {
    return { expired: this.emu.tokens.expireAccess({ memberId: this.portal.memberId, ...input }) }
  }

  /** Live refresh tokens die (`invalid_grant` on use): a portal that needs re-authorisation. */
  async revokeRefreshTokens(input: { clientId?: string; userId?: number } = {}) {
    return { revoked: this.emu.tokens.killRefresh({ memberId: this.portal.memberId, ...input }) }
  }

  /** §3.1: a code for the `authorization_code` grant (lives 30 s). */
  async issueAuthCode(input: { clientId?: string; userId?: number } = {}) {
    const code = this.emu.tokens.issueCode(
      this.portal.memberId,
      this.emu.app(input.clientId).clientId,
      input.userId ?? 1,
    )
    return { code: code.code }
  }

  /** A fresh token pair for a user of an installed app, in the §3.1 shape (test convenience). */
  async issueTokens(input: { clientId?: string; userId?: number } = {}) {
    const clientId = this.emu.app(input.clientId).clientId
    if (!this.portal.installation(clientId)) throw new lifecycle.ControlError(409, 'the app is not installed')
    return tokenResponse(this.emu, this.emu.tokens.issue(this.portal.memberId, clientId, input.userId ?? 1))
  }

  /** §3.3: PAYMENT_REQUIRED from the OAuth server while set. */
  async setPaymentRequired(input: { required: boolean }) {
    this.portal.paymentRequired = input.required
    return { required: input.required }
  }

  async addUser(input: { id?: number; name: string; lastName?: string; admin?: boolean }) {
    const id = input.id ?? this.portal.next('user')
    this.portal.bump('user', id)
    this.portal.users.set(id, {
      id,
      name: input.name,
      lastName: input.lastName ?? '',
      admin: input.admin ?? false,
    })
    return { id }
  }

  async setLimits(input: LimitsInput) {
    const bucket = this.portal.bucket
    if (input.drainPerSecond !== undefined) bucket.drainPerSecond = input.drainPerSecond
    if (input.burst !== undefined) bucket.burst = input.burst
    if (input.countRejected !== undefined) bucket.countRejected = input.countRejected
    if (input.resetBucket) bucket.reset()
    const op = this.emu.settings.operation
    if (input.operationLimitSeconds !== undefined) op.limitSeconds = input.operationLimitSeconds
    if (input.operationBucketMs !== undefined) op.bucketMs = input.operationBucketMs
    if (input.operationCostSeconds !== undefined) op.costSeconds = input.operationCostSeconds
    if (input.resetOperations) this.emu.timer(this.portal).reset()
    return {
      drainPerSecond: bucket.drainPerSecond,
      burst: bucket.burst,
      countRejected: bucket.countRejected,
      level: bucket.current(),
      operationLimitSeconds: op.limitSeconds,
      operationBucketMs: op.bucketMs,
      operationCostSeconds: op.costSeconds,
    }
  }

  /** Resolves once every event queued so far has been attempted. */
  async waitForEvents() {
    await drainEvents(this.emu, this.portal)
    return { drained: true }
  }

  state(): Record<string, unknown> {
    return portalState(this.portal)
  }

  stats(withBodies = false): Record<string, unknown> {
    return this.emu.stats.snapshot(withBodies)
  }

  async resetStats() {
    this.emu.stats.reset()
    return { reset: true }
  }
}
