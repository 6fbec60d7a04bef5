/**
 * @module An operator's files (public portal links, §6.4) as `OutgoingFile`s: each is fetched only when the
 * client uploads it and streamed straight through, never held whole. A link the portal no longer serves is a
 * permanent failure of the item; anything else may pass and is retried.
 */

import type { OperatorFile } from '../bitrix/app/operator-messages.ts'
import type { OutgoingFile } from '../bridge/client.ts'
import { PermanentSendError, TransientNetworkError } from '../bridge/errors.ts'

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>

/** 4xx other than timeouts and rate limits: the link is wrong or gone, retrying will not fix it. */
function isPermanent(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429
}

export function operatorFile(file: OperatorFile, index: number, fetchLike: FetchLike): OutgoingFile {
  return {
    name: file.name?.trim() || `file-${index + 1}`,
    mimeType: file.mime ?? 'application/octet-stream',
    ...(file.size !== null && Number.isFinite(file.size) ? { size: file.size } : {}),
    async open(signal) {
      let response: Response
      try {
        response = await fetchLike(file.link, { redirect: 'follow', signal })
      } catch (error) {
        throw new TransientNetworkError('operator file download failed', { cause: error })
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel()
        if (isPermanent(response.status)) {
          throw new PermanentSendError('operator-file-unavailable', `operator file: HTTP ${response.status}`)
        }
        throw new TransientNetworkError(`operator file: HTTP ${response.status}`)
      }
      return response.body
    },
  }
}
