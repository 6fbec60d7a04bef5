/**
 * @module Operator texts from Bitrix24 (`message.text` of `ONIMCONNECTORMESSAGEADD/UPDATE`) parsed into a
 * small neutral tree, so each messenger gets markup it can show (renderers in `bbcode-render.ts`).
 *
 * Handled (reference/bitrix24.md §6.4, pitfall 7): the operator signature `[b]Name:[/b] [br]text`, `[b] [i]
 * [u] [s]`, `[url]…[/url]`, `[url=…]…[/url]`, `[br]`/`\n`, `[USER=id]`, `[CHAT=id]`, `[SEND=…]`, `[PUT=…]`,
 * `[CALL=…]` (their label stays as text), `[ATTACH=n]` and `[RATING=n]` (dropped), `[quote]`, `[code]`, and
 * quote blocks between two lines of 54 dashes. Tags are case-insensitive. Anything unbalanced or unknown
 * stays literal text: the customer sees what the operator typed rather than losing words.
 */

export type BbStyle = 'bold' | 'italic' | 'underline' | 'strike' | 'code'
/** Tags whose content is kept as text: a Bitrix24 user, chat, command button or phone call. */
export type BbInlineTag = 'user' | 'chat' | 'send' | 'put' | 'call'

export type BbNode =
  | { type: 'text'; text: string }
  | { type: 'break' }
  | { type: 'style'; style: BbStyle; children: BbNode[] }
  | { type: 'quote'; children: BbNode[] }
  /** `href` is null when the target is not a safe absolute URL: the label is shown as text. */
  | { type: 'link'; href: string | null; children: BbNode[] }
  | { type: 'inline'; tag: BbInlineTag; value: string; children: BbNode[] }

export interface BbMessage {
  /** The operator's name when the text starts with the signature Bitrix24 adds (`NEED_SIGNATURE`). */
  signature: string | null
  body: BbNode[]
}

import { type RenderOptions, renderBbMessage, type TextFormat } from './bbcode-render.ts'

export * from './bbcode-render.ts'

const STYLES: Record<string, BbStyle> = {
  b: 'bold',
  i: 'italic',
  u: 'underline',
  s: 'strike',
  code: 'code',
}
const INLINE = new Set<string>(['user', 'chat', 'send', 'put', 'call'])
/** Void tags that carry no text for a messenger (an attachment or rating widget of the portal). */
const DROPPED = new Set<string>(['attach', 'rating'])
const DASHES = /^-{54}$/
/** Deeper nesting stays literal: keeps parsing linear on hostile input and rendering shallow. */
const MAX_DEPTH = 32
const SAFE_SCHEMES = /^(https?:\/\/|mailto:|tel:|tg:\/\/)/i
/** §6.4: `[b]Name:[/b] [br]text` (add), `[b]Name:[/b][br] text` (update); a file-only message has no text. */
const SIGNATURE = /^\[b\]([^[\]\r\n]{1,200}):\[\/b\](?:[ \t]*(?:\[br\]|\r?\n)[ \t]?|[ \t]*$)/i
const TOKEN = /\[(\/?)([a-z]{1,10})(?:=([^\]\r\n]{0,2048}))?\]|\r?\n/gi

type Token =
  | { kind: 'text'; text: string }
  | { kind: 'newline' }
  | { kind: 'dashes'; raw: string }
  | { kind: 'open'; name: string; value: string | undefined; raw: string }
  | { kind: 'close'; name: string; raw: string }

function tokenize(input: string): Token[] {
  const tokens: Token[] = []
  let at = 0
  for (const match of input.matchAll(TOKEN)) {
    if (match.index > at) tokens.push({ kind: 'text', text: input.slice(at, match.index) })
    at = match.index + match[0].length
    if (match[2] === undefined) {
      tokens.push({ kind: 'newline' })
      continue
    }
    const name = match[2].toLowerCase()
    if (name === 'br' && !match[1] && match[3] === undefined) tokens.push({ kind: 'newline' })
    else if (match[1]) tokens.push({ kind: 'close', name, raw: match[0] })
    else tokens.push({ kind: 'open', name, value: match[3], raw: match[0] })
  }
  if (at < input.length) tokens.push({ kind: 'text', text: input.slice(at) })
  // A quote border is a whole line of exactly 54 dashes.
  return tokens.map((token, index) => {
    if (token.kind !== 'text' || !DASHES.test(token.text.trim())) return token
    const before = tokens[index - 1]
    const after = tokens[index + 1]
    const lineStart = before === undefined || before.kind === 'newline'
    const lineEnd = after === undefined || after.kind === 'newline'
    return lineStart && lineEnd ? { kind: 'dashes', raw: token.text } : token
  })
}

interface Frame {
  /** Tag name, or `dashes` for a quote block between dash lines. */
  name: string
  raw: string
  node: Extract<BbNode, { children: BbNode[] }>
}

function unquote(value: string): string {
  const trimmed = value.trim()
  return /^(["']).*\1$/.test(trimmed) ? trimmed.slice(1, -1) : trimmed
}

export function textOf(nodes: BbNode[]): string {
  return nodes
    .map((node) => {
      if (node.type === 'text') return node.text
      if (node.type === 'break') return '\n'
      return textOf(node.children)
    })
    .join('')
}

function safeHref(raw: string): string | null {
  const href = raw.trim()
  if (/[\s<>"]/.test(href) || href.length === 0) return null
  if (SAFE_SCHEMES.test(href)) return href
  if (/^www\.[^/]/i.test(href)) return `https://${href}`
  return null
}

function elementFor(name: string, value: string | undefined): Frame['node'] | undefined {
  const style = STYLES[name]
  if (style) return value === undefined ? { type: 'style', style, children: [] } : undefined
  if (name === 'quote') return { type: 'quote', children: [] }
  if (name === 'url') return { type: 'link', href: value === undefined ? null : unquote(value), children: [] }
  if (INLINE.has(name)) {
    if ((name === 'user' || name === 'chat') && !value) return undefined
    return { type: 'inline', tag: name as BbInlineTag, value: unquote(value ?? ''), children: [] }
  }
  return undefined
}

/** Drops the line breaks that framed a dash-quote's border lines. */
function trimBreaks(nodes: BbNode[]): BbNode[] {
  let start = 0
  let end = nodes.length
  while (start < end && nodes[start]!.type === 'break') start++
  while (end > start && nodes[end - 1]!.type === 'break') end--
  return nodes.slice(start, end)
}

function finish(frame: Frame): BbNode {
  const node = frame.node
  if (node.type === 'link') {
    // `[url]https://…[/url]`: the label is the address.
    const target = node.href ?? textOf(node.children)
    return { ...node, href: safeHref(target) }
  }
  if (node.type === 'quote') return { ...node, children: trimBreaks(node.children) }
  return node
}

function parseBody(input: string): BbNode[] {
  const root: BbNode[] = []
  const stack: Frame[] = []
  const children = () => (stack.length > 0 ? stack[stack.length - 1]!.node.children : root)
  const pushText = (text: string) => {
    const list = children()
    const last = list[list.length - 1]
    if (last?.type === 'text') last.text += text
    else if (text !== '') list.push({ type: 'text', text })
  }
  const closeTo = (depth: number) => {
    while (stack.length > depth) {
      const frame = stack.pop()!
      children().push(finish(frame))
    }
  }
  let skipBreak = false
  for (const token of tokenize(input)) {
    const afterQuote = skipBreak
    skipBreak = false
    switch (token.kind) {
      case 'text':
        pushText(token.text)
        break
      case 'newline':
        if (!afterQuote) children().push({ type: 'break' })
        break
      case 'dashes': {
        const open = stack.findLastIndex((frame) => frame.name === 'dashes')
        if (open >= 0) {
          closeTo(open)
          skipBreak = true
        } else if (stack.length < MAX_DEPTH) {
          stack.push({ name: 'dashes', raw: token.raw, node: { type: 'quote', children: [] } })
        } else {
          pushText(token.raw)
        }
        break
      }
      case 'open': {
        if (token.name === 'br') pushText(token.raw)
        else if (DROPPED.has(token.name)) break
        else {
          const node = stack.length < MAX_DEPTH ? elementFor(token.name, token.value) : undefined
          if (node) stack.push({ name: token.name, raw: token.raw, node })
          else pushText(token.raw)
        }
        break
      }
      case 'close': {
        const open = stack.findLastIndex((frame) => frame.name === token.name)
        // Closing an outer tag closes the ones opened inside it (as HTML does); a stray closer stays text.
        if (open >= 0) closeTo(open)
        else pushText(token.raw)
        break
      }
    }
  }
  // Never closed: the opener was literal text after all, its content stays in place.
  while (stack.length > 0) {
    const frame = stack.pop()!
    pushText(frame.raw)
    const { children: inner } = frame.node
    for (const node of inner) {
      if (node.type === 'text') pushText(node.text)
      else children().push(node)
    }
  }
  return root
}

export function parseBbCode(text: string): BbMessage {
  const match = SIGNATURE.exec(text)
  if (!match) return { signature: null, body: parseBody(text) }
  return { signature: match[1]!.trim(), body: parseBody(text.slice(match[0].length)) }
}

/** Parses and renders in one step (what the inbox worker puts into a `to_messenger` delivery). */
export function renderOperatorText(text: string, format: TextFormat, options?: RenderOptions): string {
  return renderBbMessage(parseBbCode(text), format, options)
}
