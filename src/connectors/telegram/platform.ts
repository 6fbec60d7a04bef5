/**
 * @module What mtcute runs on: Bun's TCP transport and crypto from `@mtcute/bun`, and a platform that leaves
 * process signals to us and logs through our logger. `BunPlatform.beforeExit` hooks SIGINT/SIGTERM and
 * re-raises them after mtcute's own cleanup, which would cut our graceful shutdown short (reference §7.5);
 * here every client is destroyed by its account actor instead.
 */
import { format } from 'node:util'
import { BunCryptoProvider, BunPlatform, TcpTransport } from '@mtcute/bun'
import type { ICorePlatform, TelegramTransport } from '@mtcute/core'
import type { ICryptoProvider } from '@mtcute/core/utils.js'
import type { Logger } from '../../log/logger.ts'

/** mtcute's levels: 1 error, 2 warn, 3 info, 4 debug, 5 verbose. */
const LEVELS = ['silent', 'error', 'warn', 'info', 'debug', 'trace'] as const

export class ServicePlatform extends BunPlatform {
  constructor(private readonly logger?: Logger) {
    super()
  }

  override beforeExit = (_fn: () => void) => () => {}

  override log = (_color: number, level: number, tag: string, fmt: string, args: unknown[]) => {
    const name = LEVELS[level] ?? 'trace'
    if (!this.logger || name === 'silent') return
    // The logger redacts phones and tokens inside the text (P3).
    this.logger[name]({ tag }, format(fmt, ...args))
  }

  // Errors and warnings only: mtcute's info lines are per-connection chatter.
  override getDefaultLogLevel = () => 2
}

export interface TelegramRuntime {
  platform: ICorePlatform
  crypto: ICryptoProvider
  transport: TelegramTransport
}

export function bunRuntime(logger?: Logger): TelegramRuntime {
  return {
    platform: new ServicePlatform(logger),
    crypto: new BunCryptoProvider(),
    transport: new TcpTransport(),
  }
}
