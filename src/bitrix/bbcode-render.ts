/**
 * @module Renderers of a parsed operator text (`bbcode.ts`): Telegram-style HTML (b, i, u, s, a, code,
 * blockquote; text escaped), MAX markdown (reference/max-bot-api.md §5.1) and plain text. The signature
 * becomes a bold first line, or is dropped with `signature: 'drop'`.
 */
import type { BbMessage, BbNode, BbStyle } from './bbcode.ts'

export type TextFormat = 'html' | 'markdown' | 'plain'

export interface RenderOptions {
  /** What to do with the operator signature: a bold first line (default) or nothing. */
  signature?: 'bold' | 'drop'
}

const HTML_TAGS: Record<BbStyle, string> = {
  bold: 'b',
  italic: 'i',
  underline: 'u',
  strike: 's',
  code: 'code',
}
const MD_MARKS: Record<BbStyle, string> = {
  bold: '**',
  italic: '_',
  underline: '++',
  strike: '~~',
  code: '`',
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/**
 * Backslash-escapes what MAX markdown could read as markup: emphasis and link characters anywhere, a quote or
 * heading marker only at the start of a line.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\*_~`[\]+^]/g, (char) => `\\${char}`).replace(/^([>#])/gm, '\\$1')
}

function blockEdges(out: string, inner: string, end: string): string {
  const lead = out === '' || out.endsWith('\n') ? '' : '\n'
  return `${lead}${inner}${end}`
}

function html(nodes: BbNode[], inLink = false): string {
  let out = ''
  for (const node of nodes) {
    switch (node.type) {
      case 'text':
        out += escapeHtml(node.text)
        break
      case 'break':
        out += '\n'
        break
      case 'style': {
        const tag = HTML_TAGS[node.style]
        out += `<${tag}>${html(node.children, inLink)}</${tag}>`
        break
      }
      case 'quote':
        out += blockEdges(out, `<blockquote>${html(node.children, inLink)}</blockquote>`, '')
        break
      case 'link':
        out +=
          node.href === null || inLink
            ? html(node.children, inLink)
            : `<a href="${escapeHtml(node.href)}">${html(node.children, true) || escapeHtml(node.href)}</a>`
        break
      case 'inline':
        out += node.children.length > 0 ? html(node.children, inLink) : escapeHtml(node.value)
        break
    }
  }
  return out
}

function markdown(nodes: BbNode[], inLink = false): string {
  let out = ''
  for (const node of nodes) {
    switch (node.type) {
      case 'text':
        out += escapeMarkdown(node.text)
        break
      case 'break':
        out += '\n'
        break
      case 'style': {
        const inner = markdown(node.children, inLink)
        const mark = MD_MARKS[node.style]
        // Empty markers (`****`) would show as literal characters.
        out += inner.trim() === '' ? inner : `${mark}${inner}${mark}`
        break
      }
      case 'quote': {
        const inner = markdown(node.children, inLink)
          .split('\n')
          .map((line) => `> ${line}`)
          .join('\n')
        out += blockEdges(out, inner, '\n')
        break
      }
      case 'link': {
        const label = markdown(node.children, true) || escapeMarkdown(node.href ?? '')
        out +=
          node.href === null || inLink
            ? label
            : `[${label}](${node.href.replace(/\(/g, '%28').replace(/\)/g, '%29')})`
        break
      }
      case 'inline':
        out += node.children.length > 0 ? markdown(node.children, inLink) : escapeMarkdown(node.value)
        break
    }
  }
  return out
}

function plain(nodes: BbNode[]): string {
  let out = ''
  for (const node of nodes) {
    switch (node.type) {
      case 'text':
        out += node.text
        break
      case 'break':
        out += '\n'
        break
      case 'style':
        out += plain(node.children)
        break
      case 'quote': {
        const inner = plain(node.children)
          .split('\n')
          .map((line) => `> ${line}`)
          .join('\n')
        out += blockEdges(out, inner, '\n')
        break
      }
      case 'link': {
        const label = plain(node.children)
        if (node.href === null || label === node.href || `https://${label}` === node.href) out += label
        else if (label.trim() === '') out += node.href
        else out += `${label} (${node.href})`
        break
      }
      case 'inline':
        out += node.children.length > 0 ? plain(node.children) : node.value
        break
    }
  }
  return out
}

/** Renders a parsed operator text for a messenger. */
export function renderBbMessage(
  message: BbMessage,
  format: TextFormat,
  { signature = 'bold' }: RenderOptions = {},
): string {
  const body =
    format === 'html'
      ? html(message.body)
      : format === 'markdown'
        ? markdown(message.body)
        : plain(message.body)
  const trimmed = body.replace(/\s+$/, '')
  if (message.signature === null || signature === 'drop') return trimmed
  const name = message.signature
  const head =
    format === 'html'
      ? `<b>${escapeHtml(name)}:</b>`
      : format === 'markdown'
        ? `**${escapeMarkdown(name)}:**`
        : `${name}:`
  return trimmed === '' ? head : `${head}\n${trimmed}`
}
