/**
 * Set-up of the P1 suites: the admin harness whose portals A and B are two portals of a real Bitrix24
 * emulator (real HTTP) with Olchat installed, the REST client's `callWithToken`, and a clock the suites can
 * move. Bitrix24 users get their sessions the way the panel does: the emulator opens the app page for a user
 * (§2.2 POST), and what the page received is exchanged at `POST /api/v1/session/bitrix`.
 */
import { callWithToken } from '../../../src/bitrix/client/index.ts'
import type { PortalInput } from '../../../storage/repos/portals.ts'
import {
  type Bitrix24Emulator,
  type PortalControl,
  startBitrix24Emulator,
} from '../../emulators/bitrix24/index.ts'
import { type Sink, startSink } from '../../emulators/bitrix24/testkit.ts'
import { createHarness, type Harness, json } from '../admin/harness.ts'

/** User ids of the emulator's default portal users: Anna is an administrator, Klaus is not. */
export const ADMIN_USER = 1
export const PLAIN_USER = 27

export interface PageAuth {
  memberId: string
  authId: string
  applicationToken: string
  domain: string
}

export interface AuthHarness extends Harness {
  emulator: Bitrix24Emulator
  portal: { A: PortalControl; B: PortalControl }
  /** Added to the real time by the admin API's clock. */
  clock: { offsetMs: number }
  /** Opens the app page as a user of portal A or B and returns what the page received. */
  openPage(portal: 'A' | 'B', userId: number): Promise<PageAuth>
  /** `POST /api/v1/session/bitrix` with a page's auth; resolves to the response. */
  exchange(auth: PageAuth): Promise<Response>
  /** A session token of a user (the exchange must succeed). */
  sessionOf(portal: 'A' | 'B', userId: number): Promise<string>
}

function portalRow(control: PortalControl, applicationToken: string): PortalInput {
  const info = control.info()
  return {
    memberId: info.memberId,
    domain: info.domain,
    clientEndpoint: info.clientEndpoint,
    serverEndpoint: info.serverEndpoint,
    applicationToken,
  }
}

export async function createAuthHarness(): Promise<AuthHarness> {
  const emulator = await startBitrix24Emulator({
    rateLimit: { drainPerSecond: 1000, burst: 1000 },
    portals: [{}, {}],
  })
  const A: PortalControl = emulator
  const B = emulator.control(emulator.portals[1]!.memberId)
  const installedA = await A.install({ restOnly: true })
  const installedB = await B.install({ restOnly: true })
  const sink: Sink = startSink()
  sink.respond('/app', 200, '<html>Olchat</html>')
  const clock = { offsetMs: 0 }
  const h = await createHarness(
    {},
    {
      portals: [portalRow(A, installedA.applicationToken), portalRow(B, installedB.applicationToken)],
      bitrix: { callWithToken, allowHttpPortals: true },
      now: () => new Date(Date.now() + clock.offsetMs),
    },
  )
  const controls = { A, B }

  const openPage = async (portal: 'A' | 'B', userId: number): Promise<PageAuth> => {
    const page = await controls[portal].openApp({ url: `${sink.url}/app`, userId })
    return {
      memberId: page.form.member_id!,
      authId: page.form.AUTH_ID!,
      applicationToken: page.form.APPLICATION_TOKEN!,
      domain: new URL(page.url).searchParams.get('DOMAIN')!,
    }
  }
  const exchange = (auth: PageAuth) => h.call('POST', '/api/v1/session/bitrix', undefined, auth)

  return {
    ...h,
    emulator,
    portal: controls,
    clock,
    openPage,
    exchange,
    async sessionOf(portal, userId) {
      const res = await exchange(await openPage(portal, userId))
      if (res.status !== 201) throw new Error(`exchange failed: ${res.status} ${await res.text()}`)
      return (await json(res)).token as string
    },
    async close() {
      await h.close()
      await sink.stop()
      await emulator.stop()
    },
  }
}
