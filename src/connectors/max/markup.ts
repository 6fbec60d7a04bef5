/**
 * @module A customer's text with MAX markup (`{type, from, length}` over UTF-16 indexes, reference §4.5)
 * → Bitrix24 BB-codes, the text format of `imconnector.send.messages` (reference/bitrix24.md §5.8):
 * strong [b], emphasized [i], underline [u], strikethrough [s], link [url=…], heading [b], a multi-line
 * monospaced span [code], quote as the portal's own dashed block. Mentions and highlights stay plain text.
 * Overlapping spans are closed and reopened around each other so the tags always nest.
 */
import type { MarkupElement } from './schemas.ts'

type Tag = { open: string; close: string }

const DASHES = '-'.repeat(54)
const SAFE_URL = /^(https?:\/\/|mailto:|tel:)/i

function tagFor(element: MarkupElement, span: string): Tag | undefined {
  switch (element.type) {
    case 'strong':
    case 'heading':
      return { open: '[b]', close: '[/b]' }
    case 'emphasized':
      return { open: '[i]', close: '[/i]' }
    case 'underline':
      return { open: '[u]', close: '[/u]' }
    case 'strikethrough':
      return { open: '[s]', close: '[/s]' }
    case 'monospaced':
      return span.includes('\n') ? { open: '[code]', close: '[/code]' } : undefined
    case 'link': {
      const url = element.url?.trim()
      // A `]` would end the tag early; such a link stays its plain label.
      if (!url || !SAFE_URL.test(url) || /[\]\s]/.test(url)) return undefined
      return { open: `[url=${url}]`, close: '[/url]' }
    }
    case 'quote':
      return { open: `${DASHES}\n`, close: `\n${DASHES}` }
    default:
      return undefined
  }
}

interface Span {
  from: number
  to: number
  tag: Tag
  order: number
}

export function markupToBbCode(text: string, markup: readonly MarkupElement[] | null | undefined): string {
  if (!markup?.length) return text
  const spans: Span[] = []
  for (const [order, element] of markup.entries()) {
    const from = Math.min(element.from, text.length)
    const to = Math.min(element.from + element.length, text.length)
    if (to <= from) continue
    const tag = tagFor(element, text.slice(from, to))
    if (tag) spans.push({ from, to, tag, order })
  }
  if (spans.length === 0) return text
  const cuts = [...new Set([0, text.length, ...spans.flatMap((s) => [s.from, s.to])])].sort((a, b) => a - b)
  let out = ''
  const open: Span[] = []
  for (let i = 0; i < cuts.length - 1; i++) {
    const at = cuts[i]!
    // Close what ends here; spans opened after a closing one are closed first and reopened below.
    const ending = open.findIndex((s) => s.to <= at)
    if (ending >= 0) {
      for (const span of open.splice(ending).reverse()) out += span.tag.close
    }
    const active = spans
      .filter((s) => s.from <= at && s.to > at && !open.includes(s))
      // Longer spans outside, so fewer reopenings are needed.
      .sort((a, b) => b.to - a.to || a.order - b.order)
    for (const span of active) {
      out += span.tag.open
      open.push(span)
    }
    out += text.slice(at, cuts[i + 1])
  }
  for (const span of open.reverse()) out += span.tag.close
  return out
}
