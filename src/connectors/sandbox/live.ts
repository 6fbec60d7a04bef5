/**
 * @module The live updates connection of one sandbox session: a WebSocket to `/v1/updates/ws?after=<seq>`,
 * where `seq` is the stored update position (kept in the session store). The sandbox replays what was
 * missed, says `ready`, then pushes. Frames are handled strictly one after another. By default the stored
 * `seq` moves past updates as they are handed to the listeners; once `holdPositionUntilAck()` was called it
 * moves only past updates whose events were all acked, in order (an update with no event counts as acked),
 * so what the core held in memory at a crash comes again after the restart (the relay's dedup removes the
 * repeats). Connection trouble is reported, never thrown.
 */
import { NeedsLoginError, TransientNetworkError } from '../../bridge/errors.ts'
import type { AccountId } from '../../bridge/ids.ts'
import type { SessionStore } from '../../bridge/login.ts'
import type { ConnectionState, RemoteEvent } from '../../bridge/remote-event.ts'
import type { SandboxApi } from './api.ts'
import { decodeText, SESSION_KEYS } from './session.ts'
import { type OpenFile, toRemoteEvents, type UpdateFrame } from './updates.ts'

export interface LiveOptions {
  /** How often we ping; a connection silent for three intervals is taken as dead. */
  pingIntervalMs: number
  /** A connection not `ready` by then is given up (transient). */
  connectTimeoutMs: number
}

export interface LiveDeps extends LiveOptions {
  accountId: AccountId
  session: SessionStore
  api: SandboxApi
  emit: (event: RemoteEvent) => void
  openFile: OpenFile
}

/** What a close code of the sandbox means for the account. */
function closeOutcome(code: number, reason: string): { state: ConnectionState; error: Error } {
  if (code === 4406 || code === 4401) {
    const why = reason === 'AUTH_KEY_UNREGISTERED' ? 'logged-out' : 'revoked'
    return { state: 'bad-credentials', error: new NeedsLoginError(why, { cause: new Error(reason) }) }
  }
  return { state: 'transient-disconnect', error: new TransientNetworkError(`closed ${code} ${reason}`) }
}

export class LiveConnection {
  private ws: WebSocket | undefined
  /** Resolves when the current socket has closed: a new one must not open before (AUTH_KEY_DUPLICATED). */
  private socketClosed: Promise<void> = Promise.resolve()
  private opening: Promise<void> | undefined
  private online = false
  /** Bumped by `disconnect`: work of an older epoch emits nothing. */
  private epoch = 0
  /** Frames and close reports, handled in arrival order. */
  private chain: Promise<void> = Promise.resolve()
  /** The newest update handed on (never handed twice by one connection epoch). */
  private handedSeq = 0
  /** Whether the position waits for acks (`holdPositionUntilAck`). */
  private holding = false
  /** With `holding`: handed-on updates in order, with how many of their events are not acked yet. */
  private pending: { seq: number; open: number }[] = []
  /** With `holding`: the newest update whose events, and all before, were acked. */
  private ackedSeq = 0
  private storedSeq = 0
  private storing: Promise<void> | undefined

  constructor(private readonly deps: LiveDeps) {}

  async connect(): Promise<void> {
    if (this.online) {
      this.report(this.epoch, 'connected')
      return
    }
    this.opening ??= this.open(this.epoch).finally(() => {
      this.opening = undefined
    })
    return this.opening
  }

  /** From now on the stored position moves only past acked events (see the module comment). */
  holdPositionUntilAck(): void {
    if (this.holding) return
    this.holding = true
    this.ackedSeq = this.handedSeq
  }

  async disconnect(): Promise<void> {
    this.epoch++
    this.online = false
    this.ws?.close(1000, 'disconnect')
    await this.socketClosed
    await this.opening
    await this.chain
    if (this.holding) {
      // Events not acked by now were dropped by their consumer: the next connection asks for them again.
      this.pending = []
      this.handedSeq = this.ackedSeq
    }
    await this.flushSeq()
  }

  /** The position to store: acked updates when holding, handed-on ones otherwise. */
  private get position(): number {
    return this.holding ? this.ackedSeq : this.handedSeq
  }

  private async open(epoch: number): Promise<void> {
    await this.socketClosed
    let token: string | undefined
    try {
      token = decodeText(await this.deps.session.get(SESSION_KEYS.token))
      const stored = Number(decodeText(await this.deps.session.get(SESSION_KEYS.seq)) ?? 0) || 0
      // The store may lag behind what this process already handed on (writes are coalesced).
      this.handedSeq = Math.max(this.handedSeq, stored)
      this.ackedSeq = Math.max(this.ackedSeq, stored)
      this.storedSeq = Math.max(this.storedSeq, stored)
    } catch (error) {
      this.report(epoch, 'transient-disconnect', error)
      return
    }
    if (!token) {
      this.report(epoch, 'bad-credentials', new NeedsLoginError('logged-out'))
      return
    }
    if (epoch !== this.epoch) return
    await new Promise<void>((resolve) => this.openSocket(epoch, token, resolve))
  }

  /** Opens the socket; `settled` is called once the outcome (ready or closed) has been reported. */
  private openSocket(epoch: number, token: string, settled: () => void): void {
    const { api, pingIntervalMs, connectTimeoutMs } = this.deps
    const ws = new WebSocket(`${api.wsUrl}?after=${this.handedSeq}`, {
      headers: { authorization: `Bearer ${token}` },
    } as unknown as string[])
    this.ws = ws
    let markClosed = () => {}
    this.socketClosed = new Promise((resolve) => {
      markClosed = resolve
    })
    let lastHeard = Date.now()
    const giveUp = setTimeout(() => ws.close(4000, 'connect timeout'), connectTimeoutMs)
    const heartbeat = setInterval(() => {
      if (Date.now() - lastHeard > 3 * pingIntervalMs) {
        // The far side is gone without a close (frozen server, dead route): stop waiting for it.
        finish(1006, 'no answer to pings')
        return
      }
      if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}')
    }, pingIntervalMs)

    let done = false
    const finish = (code: number, reason: string) => {
      if (done) return
      done = true
      clearTimeout(giveUp)
      clearInterval(heartbeat)
      if (this.ws === ws) this.ws = undefined
      this.online = false
      markClosed()
      this.enqueue(async () => {
        if (code === 4400) await this.skipToPresent(token)
        const { state, error } = closeOutcome(code, reason)
        this.report(epoch, state, error)
        settled()
      })
    }
    ws.addEventListener('message', (event) => {
      lastHeard = Date.now()
      let frame: UpdateFrame
      try {
        frame = JSON.parse(String(event.data)) as UpdateFrame
      } catch {
        return
      }
      if (frame.type === 'ready') {
        this.enqueue(() => {
          if (done) return
          clearTimeout(giveUp)
          this.online = epoch === this.epoch
          this.report(epoch, 'connected')
          settled()
        })
      } else if (typeof frame.seq === 'number') {
        this.enqueue(() => this.handle(epoch, frame))
      }
    })
    ws.addEventListener('close', (event) => finish(event.code, event.reason))
    // An error is always followed by a close; nothing to do here but keep it from being unhandled.
    ws.addEventListener('error', () => {})
  }

  private enqueue(task: () => void | Promise<void>): void {
    this.chain = this.chain.then(task).catch(() => {
      // A task that failed (a store write) must not stop the frames after it.
    })
  }

  private handle(epoch: number, frame: UpdateFrame): void {
    const seq = frame.seq!
    // Never hand an update on twice within one process, nor after `disconnect` resolved.
    if (seq <= this.handedSeq || epoch !== this.epoch) return
    const events = toRemoteEvents(this.deps.accountId, frame, this.deps.openFile)
    this.handedSeq = seq
    if (this.holding) {
      const entry = { seq, open: events.length }
      this.pending.push(entry)
      for (const event of events) {
        let acked = false
        event.ack = () => {
          if (acked) return
          acked = true
          entry.open--
          this.advance()
        }
      }
      for (const event of events) this.deps.emit(event)
      this.advance()
      return
    }
    for (const event of events) this.deps.emit(event)
    this.storeSeq()
  }

  /** Moves the acked position over the leading updates whose events are all acked. */
  private advance(): void {
    let moved = false
    while (this.pending.length > 0 && this.pending[0]!.open <= 0) {
      this.ackedSeq = Math.max(this.ackedSeq, this.pending.shift()!.seq)
      moved = true
    }
    if (moved) this.storeSeq()
  }

  /**
   * Writes the position. Writes are coalesced (one in flight, then the newest), so a slow store
   * costs fewer writes instead of delaying events, and the stored value only moves forward.
   */
  private storeSeq(): void {
    if (this.storing) return
    this.storing = (async () => {
      try {
        while (this.storedSeq < this.position) {
          const seq = this.position
          await this.deps.session.set(SESSION_KEYS.seq, String(seq))
          this.storedSeq = seq
        }
      } catch {
        // Kept in memory; the next update or `disconnect` writes it again. Worst case a repeat on restart.
      } finally {
        this.storing = undefined
      }
    })()
  }

  private async flushSeq(): Promise<void> {
    await this.storing
    this.storeSeq()
    await this.storing
  }

  /** DIFFERENCE_TOO_LONG: what was missed is gone at the sandbox; go on from its present. */
  private async skipToPresent(token: string): Promise<void> {
    try {
      const { seq } = await this.deps.api.call<{ seq: number }>(
        'GET',
        `/updates?after=${Number.MAX_SAFE_INTEGER}&limit=1`,
        { token },
      )
      this.handedSeq = Math.max(this.handedSeq, seq)
      if (this.holding) {
        this.pending = []
        this.ackedSeq = Math.max(this.ackedSeq, seq)
      }
      await this.flushSeq()
    } catch {
      // The next connect meets the same close and tries again.
    }
  }

  private report(epoch: number, state: ConnectionState, error?: unknown): void {
    if (epoch !== this.epoch) return
    this.deps.emit({
      type: 'connection',
      accountId: this.deps.accountId,
      state,
      ...(error === undefined ? {} : { error }),
      timestamp: new Date(),
    })
  }
}
