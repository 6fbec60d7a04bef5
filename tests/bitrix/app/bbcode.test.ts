import { describe, expect, test } from 'bun:test'
import { parseBbCode, renderOperatorText, type TextFormat } from '../../../src/bitrix/bbcode.ts'

const DASHES = '-'.repeat(54)
const all = (text: string, options?: { signature?: 'bold' | 'drop' }) =>
  Object.fromEntries(
    (['html', 'markdown', 'plain'] as TextFormat[]).map((format) => [
      format,
      renderOperatorText(text, format, options),
    ]),
  )

describe('operator signature (§6.4, §6.5)', () => {
  test('MessageAdd: `[b]Name:[/b] [br]text` becomes a bold first line', () => {
    expect(parseBbCode('[b]Klaus Weber:[/b] [br]Guten Tag!')).toEqual({
      signature: 'Klaus Weber',
      body: [{ type: 'text', text: 'Guten Tag!' }],
    })
    expect(all('[b]Klaus Weber:[/b] [br]Guten Tag!')).toEqual({
      html: '<b>Klaus Weber:</b>\nGuten Tag!',
      markdown: '**Klaus Weber:**\nGuten Tag!',
      plain: 'Klaus Weber:\nGuten Tag!',
    })
  })

  test('MessageUpdate: `[b]Name:[/b][br] text`', () => {
    expect(renderOperatorText('[b]Klaus Weber:[/b][br] corrected text', 'html')).toBe(
      '<b>Klaus Weber:</b>\ncorrected text',
    )
  })

  test('a file-only message is the signature alone; the option drops it', () => {
    expect(all('[b]Klaus Weber:[/b] ')).toEqual({
      html: '<b>Klaus Weber:</b>',
      markdown: '**Klaus Weber:**',
      plain: 'Klaus Weber:',
    })
    expect(all('[b]Klaus Weber:[/b] [br]Guten Tag!', { signature: 'drop' })).toEqual({
      html: 'Guten Tag!',
      markdown: 'Guten Tag!',
      plain: 'Guten Tag!',
    })
  })

  test('bold text that is not a signature stays in the body', () => {
    expect(parseBbCode('[b]Important[/b] read this').signature).toBeNull()
    expect(parseBbCode('Hello [b]Klaus:[/b] [br]x').signature).toBeNull()
    expect(renderOperatorText('[b]Important[/b] read this', 'html')).toBe('<b>Important</b> read this')
  })

  test('names with markup characters are escaped in the bold line', () => {
    expect(renderOperatorText('[b]<Anna> & *Co*:[/b] [br]hi', 'html')).toBe(
      '<b>&lt;Anna&gt; &amp; *Co*:</b>\nhi',
    )
    expect(renderOperatorText('[b]<Anna> & *Co*:[/b] [br]hi', 'markdown')).toBe('**<Anna> & \\*Co\\*:**\nhi')
  })
})

describe('BB-codes (pitfall 7)', () => {
  test('[b] [i] [u] [s] in any case', () => {
    expect(all('[B]b[/B] [i]i[/I] [u]u[/u] [S]s[/s]')).toEqual({
      html: '<b>b</b> <i>i</i> <u>u</u> <s>s</s>',
      markdown: '**b** _i_ ++u++ ~~s~~',
      plain: 'b i u s',
    })
  })

  test('[url]…[/url] and [url=…]…[/url]', () => {
    expect(all('see [url]https://example.com/?a=1&b=2[/url]')).toEqual({
      html: 'see <a href="https://example.com/?a=1&amp;b=2">https://example.com/?a=1&amp;b=2</a>',
      markdown: 'see [https://example.com/?a=1&b=2](https://example.com/?a=1&b=2)',
      plain: 'see https://example.com/?a=1&b=2',
    })
    expect(all('[URL=https://shop.example/(sale)]the [b]shop[/b][/URL]')).toEqual({
      html: '<a href="https://shop.example/(sale)">the <b>shop</b></a>',
      markdown: '[the **shop**](https://shop.example/%28sale%29)',
      plain: 'the shop (https://shop.example/(sale))',
    })
    expect(renderOperatorText('[url=www.example.com]site[/url]', 'html')).toBe(
      '<a href="https://www.example.com">site</a>',
    )
  })

  test('[br], [BR], \\n and \\r\\n are line breaks', () => {
    expect(all('a[br]b[BR]c\nd\r\ne')).toEqual({
      html: 'a\nb\nc\nd\ne',
      markdown: 'a\nb\nc\nd\ne',
      plain: 'a\nb\nc\nd\ne',
    })
  })

  test('[USER], [CHAT], [SEND], [PUT], [CALL] keep their label; [ATTACH] and [RATING] vanish', () => {
    const text =
      'Hi [USER=27]Klaus Weber[/USER], see [CHAT=15]Support[/CHAT]. ' +
      '[SEND=yes]Yes[/SEND] [PUT=/help]Help[/PUT] ' +
      '[CALL=+74951234567]call us[/CALL] [CALL=+74951234567][/CALL][ATTACH=12][RATING=5]'
    expect(renderOperatorText(text, 'plain')).toBe(
      'Hi Klaus Weber, see Support. Yes Help call us +74951234567',
    )
    expect(renderOperatorText('[user=5][b]Anna[/b][/user]', 'html')).toBe('<b>Anna</b>')
  })

  test('[quote] and quote blocks between two lines of 54 dashes', () => {
    expect(all('[quote]earlier words[/quote]my answer')).toEqual({
      html: '<blockquote>earlier words</blockquote>my answer',
      markdown: '> earlier words\nmy answer',
      plain: '> earlier words\nmy answer',
    })
    const quoted = 'Ivan Petrov [12.03.2026 10:00]\nwhere is my order?'
    const block = `Look:\n${DASHES}\n${quoted}\n${DASHES}\nIt ships today`
    expect(all(block)).toEqual({
      html: `Look:\n<blockquote>${quoted}</blockquote>It ships today`,
      markdown: 'Look:\n> Ivan Petrov \\[12.03.2026 10:00\\]\n> where is my order?\nIt ships today',
      plain: 'Look:\n> Ivan Petrov [12.03.2026 10:00]\n> where is my order?\nIt ships today',
    })
    // The portal's own layout uses [br] between the lines too.
    expect(renderOperatorText(`${DASHES}[br]q[br]${DASHES}[br]a`, 'html')).toBe('<blockquote>q</blockquote>a')
  })

  test('[code] blocks keep their text', () => {
    expect(all('run [code]rm -rf *[/code]')).toEqual({
      html: 'run <code>rm -rf *</code>',
      markdown: 'run `rm -rf \\*`',
      plain: 'run rm -rf *',
    })
  })
})

describe('nasty input', () => {
  test('HTML in operator text is escaped, never interpreted', () => {
    expect(renderOperatorText('<script>alert("x")</script> & <b>bold?</b>', 'html')).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold?&lt;/b&gt;',
    )
    expect(renderOperatorText('[b]<img src=x onerror=alert(1)>[/b]', 'html')).toBe(
      '<b>&lt;img src=x onerror=alert(1)&gt;</b>',
    )
  })

  test('unsafe or broken link targets become plain text', () => {
    for (const target of [
      'javascript:alert(1)',
      'data:text/html,x',
      'https://x.y/"onmouseover=alert(1)',
      '',
      'ftp://x',
    ]) {
      const html = renderOperatorText(`[url=${target}]click[/url]`, 'html')
      expect(html).toBe('click')
    }
    expect(renderOperatorText('[url]javascript:alert(1)[/url]', 'html')).toBe('javascript:alert(1)')
    expect(renderOperatorText('[url=https://a.b][url=https://c.d]x[/url][/url]', 'html')).toBe(
      '<a href="https://a.b">x</a>',
    )
  })

  test('unbalanced: an unclosed opener stays literal, a stray closer too, overlaps close inner tags', () => {
    expect(all('[b]never closed')).toEqual({
      html: '[b]never closed',
      markdown: '\\[b\\]never closed',
      plain: '[b]never closed',
    })
    expect(renderOperatorText('stray[/i] closer', 'html')).toBe('stray[/i] closer')
    expect(renderOperatorText('[b]x[i]y[/b]z[/i]', 'html')).toBe('<b>x<i>y</i></b>z[/i]')
    expect(renderOperatorText('[b][i]deep[/i]', 'html')).toBe('[b]<i>deep</i>')
    expect(renderOperatorText(`open ${DASHES} only`, 'plain')).toBe(`open ${DASHES} only`)
    expect(renderOperatorText(`${DASHES}\nquoted but never closed`, 'plain')).toBe(
      `${DASHES}\nquoted but never closed`,
    )
  })

  test('nested and repeated tags', () => {
    expect(renderOperatorText('[b][b]twice[/b][/b]', 'html')).toBe('<b><b>twice</b></b>')
    expect(renderOperatorText('[i][b]x[/b][/i]', 'markdown')).toBe('_**x**_')
    expect(renderOperatorText('[b][/b]empty', 'markdown')).toBe('empty')
  })

  test('unknown tags, odd values and markdown characters survive as text', () => {
    expect(renderOperatorText('[color=red]hi[/color] [b=1]x[/b] [icon=1]', 'plain')).toBe(
      '[color=red]hi[/color] [b=1]x[/b] [icon=1]',
    )
    expect(renderOperatorText('2*3 = 6, a_b, ~x~, `q`, [x](y), > no quote', 'markdown')).toBe(
      '2\\*3 = 6, a\\_b, \\~x\\~, \\`q\\`, \\[x\\](y), > no quote',
    )
    expect(renderOperatorText('> looks like a quote\n# heading', 'markdown')).toBe(
      '\\> looks like a quote\n\\# heading',
    )
  })

  test('hostile sizes stay fast and shallow', () => {
    const deep = `${'[b]'.repeat(40_000)}x${'[/i]'.repeat(40_000)}`
    const started = performance.now()
    const html = renderOperatorText(deep, 'html')
    expect(performance.now() - started).toBeLessThan(2000)
    expect(html).toContain('x')
    expect(html.split('<b>').length - 1).toBeLessThanOrEqual(32)
    expect(renderOperatorText('', 'html')).toBe('')
    expect(renderOperatorText('[', 'html')).toBe('[')
    expect(renderOperatorText(']]][[[/', 'plain')).toBe(']]][[[/')
  })
})
