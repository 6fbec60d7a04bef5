/**
 * @module Where and how the HTTP server listens. With `HTTPS_CERT_FILE`/`HTTPS_KEY_FILE` the one port speaks
 * HTTPS only (PRIVACY S5: the link from a proxy or Bitrix24 to Olchat can be TLS too); a plain HTTP request to
 * it is not answered.
 */
import type { Config } from '../config/load.ts'

export interface ListenOptions {
  port: number
  hostname: string
  tls?: { cert: Bun.BunFile; key: Bun.BunFile }
}

export function listenOptions(config: Pick<Config, 'port' | 'host' | 'https'>): ListenOptions {
  const base = { port: config.port, hostname: config.host }
  if (!config.https) return base
  return { ...base, tls: { cert: Bun.file(config.https.certFile), key: Bun.file(config.https.keyFile) } }
}

/** `https` when Olchat terminates TLS itself; the scheme of the default public URL. */
export function schemeOf(config: Pick<Config, 'https'>): 'http' | 'https' {
  return config.https ? 'https' : 'http'
}
