/** @module Structured JSON logs (pino), scrubbed of personal data and secrets before they are written. */
import pino, { type DestinationStream, type Logger } from 'pino'
import { scrub, scrubText } from './redact.ts'

export type { Logger }

export function createLogger({
  level = 'info',
  destination,
  base = {},
}: {
  level?: string
  destination?: DestinationStream
  base?: Record<string, unknown>
} = {}): Logger {
  return pino(
    {
      level,
      base: { service: 'olchat', ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      // The default `err` serializer would bypass scrubbing; scrub() formats errors itself.
      serializers: { err: (error: unknown) => scrub(error) },
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => scrub(object) as Record<string, unknown>,
      },
      hooks: {
        // The message string and printf-style arguments are free text: mask phone and token shapes there too.
        logMethod(args, method) {
          const cleaned = args.map((arg) => (typeof arg === 'string' ? scrubText(arg) : arg))
          return method.apply(this, cleaned as Parameters<typeof method>)
        },
      },
    },
    destination ?? pino.destination({ sync: true }),
  )
}
