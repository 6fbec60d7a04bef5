/**
 * @module Reading back the body of a `to_messenger` delivery (written by the Bitrix24 inbox worker,
 * `OperatorDeliveryPayload`). A body that does not have the shape is dead-lettered, never guessed at.
 */
import * as v from 'valibot'
import type { OperatorDeliveryPayload } from '../bitrix/app/operator-messages.ts'

const Id = v.pipe(
  v.union([v.pipe(v.string(), v.nonEmpty()), v.pipe(v.number(), v.safeInteger())]),
  v.transform(String),
)

const Schema = v.object({
  im: v.object({ chat_id: Id, message_id: Id }),
  chat: v.object({ id: Id }),
  text: v.optional(v.string(), ''),
  files: v.optional(
    v.array(
      v.object({
        name: v.nullable(v.string()),
        mime: v.nullable(v.string()),
        link: v.pipe(v.string(), v.url()),
        size: v.nullable(v.number()),
      }),
    ),
    [],
  ),
  remoteIds: v.optional(v.array(Id), []),
})

export type OperatorPayload = Pick<OperatorDeliveryPayload, 'im' | 'chat' | 'text' | 'files' | 'remoteIds'>

/** @returns the body, or null when it is missing or malformed (only paths go to logs, never values) */
export function parseOperatorPayload(payload: unknown): OperatorPayload | null {
  const result = v.safeParse(Schema, payload)
  return result.success ? result.output : null
}
