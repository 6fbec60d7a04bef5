/**
 * @module The control API under `/_control/` (tests drive the customers and the faults with it). GET
 * `info|stats|state[?account=]|login-code?phone=|files/<id>`; `POST /_control/upload-file?name=&mime=` takes
 * a raw body; every other action is `POST /_control/<kebab-name>` with a JSON body validated by valibot and
 * answers what the in-process method of the same name returns.
 */
import type * as v from 'valibot'
import { badRequest, json, notFound } from './errors.ts'
import { readBody } from './http.ts'
import type { SandboxMessenger } from './index.ts'
import * as s from './schemas.ts'

type Action = { schema: v.GenericSchema; run: (h: SandboxMessenger, body: never) => unknown }

const ACTIONS: Record<string, Action> = {
  'create-account': { schema: s.createAccountBody, run: (h, b) => h.createAccount(b) },
  'create-accounts': { schema: s.createAccountsBody, run: (h, b) => h.createAccounts(b) },
  'set-profile': { schema: s.setProfileBody, run: (h, b) => h.setProfile(b) },
  'create-session': { schema: s.accountBody, run: (h, b) => h.createSession(b) },
  'create-customer': { schema: s.createCustomerBody, run: (h, b) => h.createCustomer(b) },
  'customer-send': { schema: s.customerSendBody, run: (h, b) => h.customerSend(b) },
  'customer-edit': { schema: s.customerEditBody, run: (h, b) => h.customerEdit(b) },
  'customer-delete': { schema: s.customerDeleteBody, run: (h, b) => h.customerDelete(b) },
  'customer-read': { schema: s.customerReadBody, run: (h, b) => h.customerRead(b) },
  'owner-send': { schema: s.ownerSendBody, run: (h, b) => h.ownerSend(b) },
  'owner-edit': { schema: s.ownerEditBody, run: (h, b) => h.ownerEdit(b) },
  'owner-delete': { schema: s.ownerDeleteBody, run: (h, b) => h.ownerDelete(b) },
  'expire-code': { schema: s.phoneBody, run: (h, b) => h.expireCode(b) },
  'drop-connections': { schema: s.accountBody, run: (h, b) => h.dropConnections(b) },
  'flood-wait': { schema: s.floodWaitBody, run: (h, b) => h.floodWait(b) },
  'drop-responses': { schema: s.dropResponsesBody, run: (h, b) => h.dropResponses(b) },
  latency: { schema: s.latencyBody, run: (h, b) => h.setLatency(b) },
  'clear-faults': { schema: s.emptyBody, run: (h) => h.clearFaults() },
  'revoke-session': { schema: s.revokeBody, run: (h, b) => h.revokeSession(b) },
  'rate-limit': { schema: s.rateLimitBody, run: (h, b) => h.setRateLimit(b) },
  'reset-stats': { schema: s.emptyBody, run: (h) => h.resetStats() },
}

export async function handleControl(handle: SandboxMessenger, req: Request, url: URL): Promise<Response> {
  const name = url.pathname.replace(/^\/_control\/?/, '')
  if (req.method === 'GET') {
    if (name === '' || name === 'info') return json(200, handle.info())
    if (name === 'stats') return json(200, handle.stats())
    if (name === 'state') {
      const account = url.searchParams.get('account')
      if (account === null) return json(200, handle.state())
      return json(200, handle.state({ account: /^\d+$/.test(account) ? Number(account) : account }))
    }
    if (name === 'login-code')
      return json(200, handle.loginCode({ phone: url.searchParams.get('phone') ?? '' }))
    const file = /^files\/([0-9a-f]+)$/.exec(name)
    if (file) {
      const meta = handle.world.files.get(file[1]!)
      if (!meta) throw notFound('No such file')
      return handle.world.files.download(meta)
    }
    throw notFound(`No GET /_control/${name}`)
  }
  if (req.method !== 'POST') throw notFound(`No ${req.method} /_control/${name}`)
  if (name === 'upload-file') {
    const fileName = url.searchParams.get('name')
    if (!fileName || !req.body) throw badRequest('BAD_REQUEST', 'Give ?name= and a body')
    const mime = url.searchParams.get('mime') ?? req.headers.get('content-type') ?? 'application/octet-stream'
    return json(200, await handle.uploadFile(fileName, mime, req.body))
  }
  const action = ACTIONS[name]
  if (!action) throw notFound(`No POST /_control/${name}`)
  const body = await readBody(req, action.schema)
  return json(200, await action.run(handle, body as never))
}
