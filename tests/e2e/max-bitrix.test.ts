/**
 * MAX end to end (issue 6): three processes over real HTTP — the MAX Bot API emulator, the Bitrix24 portal
 * emulator and Olchat with `MAX_API_URL` at the first — once with long polling and once with webhooks
 * (`MAX_MODE=webhook`, `OLCHAT_PUBLIC_URL` at the Olchat process; the emulator takes http sinks unless told to
 * require https). The bot is connected through the admin API's `token` flow as an admin pastes it (a wrong
 * token first), bound to line 1 through the settings placement; then both directions: texts, a file, edits
 * and deletions. Verdicts come from the emulators' state and counters, and from a scan of every table.
 * One world per mode. Skipped on the embedded backends: Olchat runs as its own process, and an embedded
 * PGlite serves only the process that opened it (one connection).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { testBackendSet } from '../support/backends.ts'
import { type UntilOptions, until as untilEvery } from '../support/until.ts'
import { bodiesLeft, type ImMessage, MaxBitrixWorld, type MaxMode } from './max-world.ts'

const real = testBackendSet() === 'real'
const embeddedReason =
  'needs the real PostgreSQL: Olchat runs as a separate process and embedded PGlite serves one process'
if (!real) console.log(`MAX ⇄ Bitrix24 e2e skipped on embedded backends: ${embeddedReason}`)

const figures: Record<string, Record<string, unknown>> = {}
afterAll(() => {
  if (real) console.log('MAX ⇄ Bitrix24 e2e figures', JSON.stringify(figures, null, 2))
})

/** Polled every 25 ms: the latencies below are figures, so the probe's own period must stay small. */
const fine: UntilOptions = { everyMs: 25 }
const until = <T>(what: string, probe: () => Promise<T | undefined>) => untilEvery(what, probe, fine)

/** How long `probe` took to come true, in ms (a figure). */
async function timed<T>(what: string, probe: () => Promise<T | undefined>): Promise<[T, number]> {
  const started = performance.now()
  const value = await until(what, probe)
  return [value, Math.round(performance.now() - started)]
}

const sha256 = (bytes: Uint8Array | string) => new Bun.CryptoHasher('sha256').update(bytes).digest('hex')

interface LoginAnswer {
  loginId: string
  step: { type: string }
  account?: { id: string }
  error?: string
  message?: string
  explanation?: { ru: string; en: string }
}

for (const mode of ['polling', 'webhook'] as const) describeMode(mode)

function describeMode(mode: MaxMode): void {
  const title = `MAX (${mode}) ⇄ Olchat ⇄ Bitrix24 emulator, three processes`
  describe.skipIf(!real)(real ? title : `${title} — skipped: ${embeddedReason}`, () => {
    const world = new MaxBitrixWorld(mode)
    const tag = `e2e${process.pid}${mode}`
    /** Every text of this world: none may be left in any table at the end. */
    const texts = {
      customer: `Здравствуйте, ${tag} customer text`,
      caption: `${tag} caption of the file`,
      fileBody: `${tag} file body`,
      customerEdited: `Здравствуйте, ${tag} customer text, edited`,
      operator: `${tag} operator answer`,
      operatorEdited: `${tag} operator answer, edited`,
      operatorCaption: `${tag} operator file caption`,
      operatorFileBody: `${tag} operator file body`,
      forged: `${tag} forged webhook text`,
    }
    const f: Record<string, unknown> = {}
    figures[mode] = f
    let token = ''
    let accountId = ''
    let userId = 0
    let chatId = 0
    let customerMid = ''
    const maxStats = () => world.max<Record<string, number>>('stats')
    const clientMessages = async () =>
      (await world.portalChat())?.messages.filter((m) => m.author === 'client') ?? []
    const byText = (messages: ImMessage[], text: string) => messages.filter((m) => m.text.includes(text))

    beforeAll(async () => {
      if (!real) return
      const started = performance.now()
      await world.start()
      f.worldStartMs = Math.round(performance.now() - started)
    }, 60_000)

    afterAll(async () => {
      if (!real) return
      try {
        const code = await world.stopOlchat()
        const leases = await world.sql<{ n: number }[]>`
          select count(*)::int as n from account_leases where owner is not null`
        f.afterStop = { exitCode: code, heldLeases: leases[0]?.n }
        expect(code).toBe(0)
        // A graceful stop releases the lease at once.
        expect(leases[0]?.n).toBe(0)
      } finally {
        await world.close()
      }
    }, 40_000)

    test('a token MAX refuses: a clear 422 with the explanation, no account stored', async () => {
      const before = await maxStats()
      const opened = await world.admin<LoginAnswer>('POST', '/accounts', {
        portalId: world.portalId,
        messenger: 'max',
        flow: 'token',
      })
      expect(opened.status).toBe(201)
      expect(opened.body.step.type).toBe('user-input')
      const refused = await world.admin<LoginAnswer>('POST', `/logins/${opened.body.loginId}/steps`, {
        input: { token: 'not-a-token-of-any-bot-0123456789' },
      })
      expect(refused.status).toBe(422)
      expect(refused.body.error).toBe('invalid_login_input')
      expect(refused.body.explanation?.en).toContain('MAX did not accept this token')
      expect(refused.body.explanation?.ru).toContain('MAX не принял этот токен')
      expect(refused.body.account).toBeUndefined()
      const [accounts] = await world.sql<{ n: number }[]>`select count(*)::int as n from accounts`
      expect(accounts!.n).toBe(0)
      // The refusal came from MAX itself (GET /me answered 401), not from a local shape check.
      const after = await maxStats()
      expect((after.unauthorized ?? 0) - (before.unauthorized ?? 0)).toBe(1)
      f.badToken = { status: refused.status, error: refused.body.error }
    })

    test('a good token connects the bot and the account goes online', async () => {
      token = (await world.max<{ token: string }>('bots', { name: 'Shop' })).token
      const started = performance.now()
      const opened = await world.admin<LoginAnswer>('POST', '/accounts', {
        portalId: world.portalId,
        messenger: 'max',
        flow: 'token',
      })
      const done = await world.admin<LoginAnswer & { started?: boolean }>(
        'POST',
        `/logins/${opened.body.loginId}/steps`,
        { input: { token } },
      )
      expect(done.status).toBe(200)
      expect(done.body.step.type).toBe('complete')
      expect(done.body.started).toBe(true)
      accountId = done.body.account!.id
      await until('the account online', async () =>
        (await world.repos.accounts.get(accountId)).health === 'online' ? true : undefined,
      )
      // From the admin's first request to the account online in the Olchat process.
      f.loginToOnlineMs = Math.round(performance.now() - started)
      const { subscriptions } = await world.max<{ subscriptions: Array<{ url: string; secret?: string }> }>(
        `subscriptions?token=${token}`,
      )
      if (mode === 'webhook') {
        expect(subscriptions.map((s) => s.url)).toEqual([`${world.olchatUrl}/max/webhook/${accountId}`])
        expect(subscriptions[0]!.secret?.length).toBeGreaterThanOrEqual(5)
      } else {
        expect(subscriptions).toEqual([])
        // The poller is asking MAX for updates.
        await until('a long poll at the emulator', async () =>
          ((await maxStats())['requests:GET /updates'] ?? 0) > 0 ? true : undefined,
        )
      }
    }, 30_000)

    test('the settings placement binds the bot to line 1', async () => {
      await world.bindLine(accountId)
      expect((await world.repos.accounts.get(accountId)).lineId).not.toBeNull()
    })

    test('customer → operator: a text and a file reach the Open Lines chat; the portal fetched the file', async () => {
      userId = (await world.max<{ userId: number }>('users', { name: 'Анна' })).userId
      chatId = (await world.max<{ chatId: number }>('users/start', { token, userId })).chatId
      const started = performance.now()
      customerMid = (await world.max<{ mid: string }>('users/send', { token, userId, text: texts.customer }))
        .mid
      await world.max('users/send', {
        token,
        userId,
        text: texts.caption,
        file: {
          name: 'invoice.txt',
          mime: 'text/plain',
          base64: Buffer.from(texts.fileBody).toString('base64'),
        },
      })
      const client = await until('both messages in the portal', async () => {
        const found = await clientMessages()
        return byText(found, texts.customer).length && byText(found, texts.caption).length ? found : undefined
      })
      f.customerToPortalMs = Math.round(performance.now() - started)
      expect(byText(client, texts.customer)).toHaveLength(1)
      const withFile = byText(client, texts.caption)
      expect(withFile).toHaveLength(1)
      expect(withFile[0]!.files).toHaveLength(1)
      expect(byText(client, texts.customer)[0]!.connectorMid).toEqual([customerMid])
      const state = await until('the file downloaded by the portal', async () => {
        const s = await world.portal<{ filesDownloaded: number; filesFailed: number }>('stats')
        return s.filesDownloaded >= 1 ? s : undefined
      })
      expect(state.filesFailed).toBe(0)
      const portalState = await world.portal<{
        portals?: Array<{ files: Array<{ purpose: string; sha256: string | null; status: string }> }>
        files?: Array<{ purpose: string; sha256: string | null; status: string }>
      }>('state')
      const files = (portalState.portals?.[0]?.files ?? portalState.files ?? []).filter(
        (x) => x.purpose === 'message',
      )
      // The very bytes the customer sent, fetched by the portal from Olchat's signed URL.
      expect(files.map((x) => [x.status, x.sha256])).toEqual([['downloaded', sha256(texts.fileBody)]])
      const stats = await maxStats()
      f.customerSide = {
        downloadsFromMax: stats.downloads,
        portalFilesDownloaded: state.filesDownloaded,
        ...(mode === 'webhook'
          ? { webhookDeliveries: stats.webhook_deliveries, webhookFailures: stats.webhook_failures }
          : { updatesPolled: stats.updates_polled }),
      }
      if (mode === 'webhook') {
        expect(stats.webhook_failures ?? 0).toBe(0)
        // bot_started and the two messages, each POSTed to Olchat and answered 200.
        expect(stats.webhook_deliveries).toBeGreaterThanOrEqual(3)
        expect(stats['requests:GET /updates'] ?? 0).toBe(0)
      } else {
        expect(stats.updates_polled).toBeGreaterThanOrEqual(3)
        expect(stats.webhook_deliveries ?? 0).toBe(0)
      }
    }, 30_000)

    test('customer edit and delete reach the portal', async () => {
      const find = async () => (await clientMessages()).find((m) => m.connectorMid?.includes(customerMid))
      const editStarted = performance.now()
      await world.max('users/edit', { token, userId, mid: customerMid, text: texts.customerEdited })
      await until('the edit on the portal', async () => {
        const message = await find()
        return message?.edited && message.text.includes(texts.customerEdited) ? true : undefined
      })
      const editMs = Math.round(performance.now() - editStarted)
      const deleteStarted = performance.now()
      await world.max('users/delete', { token, userId, mid: customerMid })
      await until('the deletion on the portal', async () => ((await find())?.deleted ? true : undefined))
      f.customerEditDeleteMs = { edit: editMs, delete: Math.round(performance.now() - deleteStarted) }
    }, 30_000)

    test('operator → customer: a text and a file reach MAX once, with the bytes; delivery statuses set', async () => {
      const chat = (await world.portalChat())!
      const started = performance.now()
      const posted = await world.portal<{ messageId: number; deliveries: Array<{ ok: boolean }> }>(
        'post-operator-message',
        { chatId: chat.id, text: texts.operator },
      )
      expect(posted.deliveries.every((d) => d.ok)).toBe(true)
      const [sent, textMs] = await timed('the operator text at MAX', async () => {
        const found = (await world.botMessages(token, chatId)).filter((m) => m.text.includes(texts.operator))
        return found.length > 0 ? found : undefined
      })
      expect(sent).toHaveLength(1)
      const mid = await until('CONNECTOR_MID of the text on the portal', async () => {
        const message = (await world.portalChat())?.messages.find((m) => m.id === posted.messageId)
        return message?.connectorMid?.length ? message.connectorMid : undefined
      })
      const statusMs = Math.round(performance.now() - started)
      expect(mid).toEqual([sent[0]!.mid])

      const withFile = await world.portal<{ messageId: number; deliveries: Array<{ ok: boolean }> }>(
        'post-operator-message',
        {
          chatId: chat.id,
          text: texts.operatorCaption,
          files: [{ name: 'answer.txt', mime: 'text/plain', text: texts.operatorFileBody }],
        },
      )
      expect(withFile.deliveries.every((d) => d.ok)).toBe(true)
      const [attached, fileMs] = await timed('the operator file at MAX', async () => {
        const found = (await world.botMessages(token, chatId)).filter((m) => m.attachments.length > 0)
        return found.length > 0 ? found : undefined
      })
      f.operatorToMaxMs = { text: textMs, deliveryStatus: statusMs, file: fileMs }
      expect(attached).toHaveLength(1)
      expect(attached[0]!.attachments).toHaveLength(1)
      const [file] = attached[0]!.attachments
      expect(file!.type).toBe('file')
      expect(file!.name).toBe('answer.txt')
      expect(Buffer.from(file!.base64 ?? '', 'base64').toString()).toBe(texts.operatorFileBody)
      const all = await world.botMessages(token, chatId)
      expect(all.filter((m) => m.text.includes(texts.operatorCaption))).toHaveLength(1)
      await until('CONNECTOR_MID of the file message on the portal', async () => {
        const message = (await world.portalChat())?.messages.find((m) => m.id === withFile.messageId)
        return message?.connectorMid?.length ? true : undefined
      })
      const stats = await maxStats()
      f.maxSends = {
        messagesFromBots: stats.messages_from_bots,
        uploads: stats.uploads,
        attachmentNotReady: stats.attachment_not_ready ?? 0,
        duplicates: stats.duplicate_messages ?? 0,
      }
      expect(stats.duplicate_messages ?? 0).toBe(0)
      expect(stats.uploads).toBe(1)
    }, 40_000)

    test('operator edit and delete reach MAX', async () => {
      const chat = (await world.portalChat())!
      const operatorMessage = chat.messages.find((m) => m.author === 'operator' && m.text === texts.operator)!
      const mid = operatorMessage.connectorMid![0]!
      const at = async () => (await world.botMessages(token, chatId)).find((m) => m.mid === mid)
      const editStarted = performance.now()
      await world.portal('edit-operator-message', {
        messageId: operatorMessage.id,
        text: texts.operatorEdited,
      })
      await until('the edit at MAX', async () => {
        const message = await at()
        return message?.edited && message.text.includes(texts.operatorEdited) ? true : undefined
      })
      const editMs = Math.round(performance.now() - editStarted)
      const deleteStarted = performance.now()
      await world.portal('delete-operator-message', { messageId: operatorMessage.id })
      await until('the deletion at MAX', async () => ((await at())?.deleted ? true : undefined))
      f.operatorEditDeleteMs = { edit: editMs, delete: Math.round(performance.now() - deleteStarted) }
      const stats = await maxStats()
      expect(stats.messages_edited_by_bots).toBe(1)
      expect(stats.messages_deleted_by_bots).toBe(1)
    }, 30_000)

    if (mode === 'webhook') {
      test('a forged webhook (wrong or no secret) is refused 401 and nothing is stored', async () => {
        const [before] = await world.sql<{ n: number }[]>`select count(*)::int as n from max_updates`
        const clientBefore = (await clientMessages()).length
        const update = {
          update_type: 'message_created',
          timestamp: Date.now(),
          message: {
            sender: { user_id: userId, first_name: 'Анна', is_bot: false, last_activity_time: Date.now() },
            recipient: { chat_id: chatId, chat_type: 'dialog' },
            timestamp: Date.now(),
            body: { mid: `mid.forged.${tag}`, seq: 1, text: texts.forged },
          },
        }
        const url = `${world.olchatUrl}/max/webhook/${accountId}`
        const statuses: number[] = []
        const forged: Array<Record<string, string>> = [{ 'x-max-bot-api-secret': 'wrong-secret-000000' }, {}]
        for (const headers of forged) {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: JSON.stringify(update),
          })
          statuses.push(res.status)
          await res.body?.cancel()
        }
        expect(statuses).toEqual([401, 401])
        const [after] = await world.sql<{ n: number }[]>`select count(*)::int as n from max_updates`
        expect(after!.n).toBe(before!.n)
        expect(await world.metric('olchat_max_webhook_deliveries_total', 'outcome="unauthorized"')).toBe(2)
        // Nothing reached the portal either (a real update would be there within the drain interval).
        await Bun.sleep(500)
        expect(await clientMessages()).toHaveLength(clientBefore)
        f.forgedWebhook = { statuses, maxUpdatesRows: after!.n }
      })
    }

    test('after delivery no message body is left in any table', async () => {
      const scan = await bodiesLeft(world.sql, texts, tag)
      const counts = await world.sql<{ direction: string; kind: string; n: number }[]>`
        select direction, kind, count(*)::int as n from deliveries group by 1, 2 order by 1, 2`
      f.scan = {
        tables: scan.tables,
        rows: scan.rows,
        deliveries: Object.fromEntries(counts.map((c) => [`${c.direction}/${c.kind}`, c.n])),
      }
      expect(scan.found).toEqual([])
      const stats = await world.portal<{ eventsFailed: number }>('stats')
      expect(stats.eventsFailed).toBe(0)
    }, 30_000)
  })
}
