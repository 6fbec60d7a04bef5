/**
 * @module Entry point of the Bitrix24 portal emulator: `startBitrix24Emulator(options)` starts the OAuth
 * server listener (the emulator's oauth.bitrix.info, §3) and one listener per portal (REST `/rest/`, control
 * `/_emulator/`, operator file links `/~…`), all on 127.0.0.1 port 0 by default, and returns a handle whose
 * methods act on the first portal (`handle.control(memberId)` for others).
 */
import type { Server } from 'bun'
import { Emulator } from './context.ts'
import { handleControl } from './control.ts'
import { serveOperatorFile } from './files.ts'
import { json } from './http-util.ts'
import { handleOAuth } from './oauth.ts'
import { PortalControl, type PortalInfo } from './portal-control.ts'
import { handleRest } from './rest.ts'
import type { Portal } from './state.ts'
import type { EmulatorOptions, PortalOptions } from './types.ts'

export { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from './context.ts'
export { httpBuildQuery, parsePhpQuery } from './php-form.ts'
export type { LimitsInput, PortalControl, PortalInfo } from './portal-control.ts'
export type { DeliveryRecord } from './stats.ts'
export type { EmulatorOptions, PortalOptions } from './types.ts'

function portalFetch(emu: Emulator, portal: Portal, control: PortalControl) {
  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url)
    try {
      if (url.pathname.startsWith('/rest/')) return await handleRest(emu, portal, req, url)
      if (url.pathname === '/_emulator' || url.pathname.startsWith('/_emulator/')) {
        return await handleControl(
          control,
          req,
          url.pathname === '/_emulator' ? new URL('/_emulator/', url) : url,
        )
      }
      const file = serveOperatorFile(portal, url)
      if (file) return file
      return json(404, { error: 'NOT_FOUND', error_description: 'Unknown portal path' })
    } catch (e) {
      console.error('bitrix24 emulator: request failed', url.pathname, e)
      return json(500, { error: 'INTERNAL_SERVER_ERROR', error_description: 'Internal server error' })
    }
  }
}

export class Bitrix24Emulator extends PortalControl {
  private readonly servers: Server<undefined>[] = []
  private readonly controls = new Map<string, PortalControl>()

  private constructor(emu: Emulator, first: Portal) {
    super(emu, first)
  }

  /** @internal use startBitrix24Emulator */
  static async start(options: EmulatorOptions): Promise<Bitrix24Emulator> {
    const emu = new Emulator(options)
    const host = emu.settings.host
    const oauth = Bun.serve({
      hostname: host,
      port: options.oauthPort ?? 0,
      fetch: (req) => handleOAuth(emu, req),
    })
    emu.oauthUrl = `http://${host}:${oauth.port}`
    const specs = options.portals?.length ? options.portals : [{}]
    const first = emu.createPortal(specs[0]!)
    const handle = new Bitrix24Emulator(emu, first)
    handle.servers.push(oauth)
    await handle.listen(first, specs[0]!)
    for (const spec of specs.slice(1)) await handle.addPortal(spec)
    return handle
  }

  private async listen(portal: Portal, spec: PortalOptions): Promise<PortalControl> {
    const control = portal === this.portal ? this : new PortalControl(this.emu, portal)
    const server = Bun.serve({
      hostname: this.emu.settings.host,
      port: spec.port ?? 0,
      idleTimeout: 120,
      fetch: portalFetch(this.emu, portal, control),
    })
    portal.setUrl(`http://${this.emu.settings.host}:${server.port}`)
    this.servers.push(server)
    this.controls.set(portal.memberId, control)
    return control
  }

  get oauthUrl(): string {
    return this.emu.oauthUrl
  }

  /** Every portal's URLs. */
  get portals(): PortalInfo[] {
    return [...this.controls.values()].map((c) => c.info())
  }

  /** Base URL of a portal (default: the first); `client_endpoint` is this + `/rest/`. */
  portalUrl(memberId?: string): string {
    return this.control(memberId).portal.url
  }

  /** Control of one portal (default: the first, i.e. this handle). */
  control(memberId?: string): PortalControl {
    if (memberId === undefined) return this
    const control = this.controls.get(memberId)
    if (!control) throw new Error(`no portal ${memberId}`)
    return control
  }

  async addPortal(spec: PortalOptions = {}): Promise<PortalControl> {
    return this.listen(this.emu.createPortal(spec), spec)
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop(true)))
  }
}

export function startBitrix24Emulator(options: EmulatorOptions = {}): Promise<Bitrix24Emulator> {
  return Bitrix24Emulator.start(options)
}
