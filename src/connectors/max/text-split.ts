/**
 * @module Splits an operator text into parts MAX accepts (≤ 4000 characters each, reference §5.1). Cuts at
 * the last paragraph break, else line break, else space inside the limit, and never between the halves of a
 * surrogate pair or right after a markdown escape backslash (the text is MAX markdown, §5.1).
 */

export const MAX_PART_LENGTH = 4000

export function splitText(text: string, limit = MAX_PART_LENGTH): string[] {
  const parts: string[] = []
  let rest = text
  while (rest.length > limit) {
    const cut = cutPoint(rest, limit)
    const part = rest.slice(0, cut).trimEnd()
    if (part) parts.push(part)
    rest = rest.slice(cut).replace(/^[ \t]*\n?/, '')
  }
  if (rest.trim() || parts.length === 0) parts.push(rest)
  return parts
}

function cutPoint(text: string, limit: number): number {
  const window = text.slice(0, limit + 1)
  // Prefer natural breaks in the second half; a break near the start would make a tiny part.
  const floor = Math.floor(limit / 2)
  for (const separator of ['\n\n', '\n', ' ']) {
    const at = window.lastIndexOf(separator, limit - separator.length)
    if (at >= floor) return at + separator.length
  }
  let cut = limit
  const code = text.charCodeAt(cut - 1)
  if (code >= 0xd800 && code <= 0xdbff) cut-- // high surrogate: keep the pair together
  let slashes = 0
  while (cut - 1 - slashes >= 0 && text[cut - 1 - slashes] === '\\') slashes++
  if (slashes % 2 === 1) cut-- // an escape must stay with the character it escapes
  return cut
}
