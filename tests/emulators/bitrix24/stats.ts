/**
 * @module Counters the acceptance verdicts are read from (`GET /_emulator/stats`, `handle.stats()`): REST
 * requests (a `batch` counts once, §4.5), refusals by status, OAuth refreshes, event deliveries, file
 * downloads.
 */

export interface DeliveryRecord {
  seq: number
  memberId: string
  clientId: string
  event: string
  handlerId: number | null
  url: string
  status: number | null
  ok: boolean
  latencyMs: number
  at: number
  error: string | null
  /** The exact form-encoded body that was POSTed. */
  body: string
}

export interface FileFailure {
  memberId: string
  url: string
  reason: string
  status: number | null
  at: number
}

interface PortalCounters {
  requests: number
  status503: number
  status429: number
  status401: number
  oauthRefreshes: number
}

export class Stats {
  requests = 0
  byMethod: Record<string, number> = {}
  batchedByMethod: Record<string, number> = {}
  byStatus: Record<string, number> = {}
  status503 = 0
  status429 = 0
  status401 = 0
  firstRequestAt: number | null = null
  lastRequestAt: number | null = null
  oauthRequests = 0
  oauthRefreshes = 0
  oauthRefreshesOk = 0
  oauthCodeExchanges = 0
  oauthErrors: Record<string, number> = {}
  eventsSent = 0
  eventsFailed = 0
  eventsSuppressed = 0
  deliveries: DeliveryRecord[] = []
  filesDownloaded = 0
  filesFailed = 0
  fileFailures: FileFailure[] = []
  byPortal: Record<string, PortalCounters> = {}
  private seq = 0

  portal(memberId: string): PortalCounters {
    let p = this.byPortal[memberId]
    if (!p) {
      p = { requests: 0, status503: 0, status429: 0, status401: 0, oauthRefreshes: 0 }
      this.byPortal[memberId] = p
    }
    return p
  }

  request(memberId: string, method: string): void {
    const now = Date.now()
    this.requests++
    this.portal(memberId).requests++
    this.byMethod[method] = (this.byMethod[method] ?? 0) + 1
    this.firstRequestAt ??= now
    this.lastRequestAt = now
  }

  batched(method: string): void {
    this.batchedByMethod[method] = (this.batchedByMethod[method] ?? 0) + 1
  }

  status(memberId: string, status: number): void {
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1
    const p = this.portal(memberId)
    if (status === 503) {
      this.status503++
      p.status503++
    } else if (status === 429) {
      this.status429++
      p.status429++
    } else if (status === 401) {
      this.status401++
      p.status401++
    }
  }

  oauthError(code: string): void {
    this.oauthErrors[code] = (this.oauthErrors[code] ?? 0) + 1
  }

  delivery(record: Omit<DeliveryRecord, 'seq'>): DeliveryRecord {
    const full = { seq: ++this.seq, ...record }
    this.eventsSent++
    if (!record.ok) this.eventsFailed++
    this.deliveries.push(full)
    return full
  }

  fileFailed(failure: FileFailure): void {
    this.filesFailed++
    this.fileFailures.push(failure)
  }

  reset(): void {
    Object.assign(this, new Stats())
  }

  /** JSON view; delivery bodies are left out unless asked for (they can be large). */
  snapshot(withBodies = false): Record<string, unknown> {
    const { seq: _seq, ...rest } = this as unknown as Record<string, unknown>
    const deliveries = withBodies ? this.deliveries : this.deliveries.map(({ body: _b, ...d }) => d)
    // A detached copy: callers compare snapshots taken at different times.
    return structuredClone({
      ...rest,
      deliveries,
      drainMs:
        this.firstRequestAt !== null && this.lastRequestAt !== null
          ? this.lastRequestAt - this.firstRequestAt
          : null,
    })
  }
}
