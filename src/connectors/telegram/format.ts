/**
 * @module Text between Telegram and Bitrix24. Incoming: Telegram's text + entities → Bitrix24 BB-codes
 * ([b] [i] [u] [s] [code] [quote] [url=…]). Outgoing: the core renders operator BB-codes to HTML for
 * Telegram (`src/bitrix/app/operator-messages.ts`), parsed here into text + entities by mtcute's HTML
 * parser, and split into messages of at most 4096 characters with the entities cut to fit.
 */
import type { TextWithEntities, tl } from '@mtcute/core'
import { html } from '@mtcute/html-parser'

const BB: Partial<Record<tl.TypeMessageEntity['_'], [string, string]>> = {
  messageEntityBold: ['[b]', '[/b]'],
  messageEntityItalic: ['[i]', '[/i]'],
  messageEntityUnderline: ['[u]', '[/u]'],
  messageEntityStrike: ['[s]', '[/s]'],
  messageEntityCode: ['[code]', '[/code]'],
  messageEntityPre: ['[code]', '[/code]'],
  messageEntityBlockquote: ['[quote]', '[/quote]'],
}

function tagsOf(entity: tl.TypeMessageEntity): [string, string] | undefined {
  if (entity._ === 'messageEntityTextUrl') {
    return /^https?:\/\//i.test(entity.url)
      ? [`[url=${entity.url.replace(/]/g, '%5D')}]`, '[/url]']
      : undefined
  }
  return BB[entity._]
}

/** Telegram text with entities → Bitrix24 BB-codes (entities Bitrix24 cannot show stay plain text). */
export function entitiesToBbCode(text: string, entities: readonly tl.TypeMessageEntity[] = []): string {
  const opens = new Map<number, string[]>()
  const closes = new Map<number, string[]>()
  // Outer entities first at an offset; closing tags in reverse so nesting stays balanced.
  const sorted = [...entities].sort((a, b) => a.offset - b.offset || b.length - a.length)
  for (const entity of sorted) {
    const tags = tagsOf(entity)
    if (!tags || entity.length <= 0) continue
    const end = entity.offset + entity.length
    opens.set(entity.offset, [...(opens.get(entity.offset) ?? []), tags[0]])
    closes.set(end, [tags[1], ...(closes.get(end) ?? [])])
  }
  let out = ''
  for (let i = 0; i <= text.length; i++) {
    out += (closes.get(i) ?? []).join('') + (opens.get(i) ?? []).join('')
    if (i < text.length) out += text[i]
  }
  return out
}

/** The operator's text as rendered for Telegram (HTML) → text + entities. */
export function parseOperatorHtml(input: string): TextWithEntities {
  return html(input)
}

/**
 * Splits at `max` UTF-16 units, preferring a line break, then a space, in the second half of a chunk; an
 * entity crossing a cut is split into both parts.
 */
export function splitText(input: TextWithEntities, max = 4096): TextWithEntities[] {
  const { text } = input
  const entities = input.entities ?? []
  if (text.length <= max) return [input]
  const parts: TextWithEntities[] = []
  let start = 0
  while (start < text.length) {
    let end = Math.min(start + max, text.length)
    if (end < text.length) {
      const window = text.slice(start + Math.floor(max / 2), end)
      const cut = Math.max(window.lastIndexOf('\n'), window.lastIndexOf(' '))
      if (cut >= 0) end = start + Math.floor(max / 2) + cut + 1
      // Never cut a surrogate pair in two.
      const code = text.charCodeAt(end - 1)
      if (code >= 0xd800 && code <= 0xdbff) end--
    }
    const chunk: tl.TypeMessageEntity[] = []
    for (const e of entities) {
      const from = Math.max(e.offset, start)
      const to = Math.min(e.offset + e.length, end)
      if (to > from) chunk.push({ ...e, offset: from - start, length: to - from })
    }
    parts.push({ text: text.slice(start, end), entities: chunk })
    start = end
  }
  return parts
}
