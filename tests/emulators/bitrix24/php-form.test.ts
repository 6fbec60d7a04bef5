import { describe, expect, test } from 'bun:test'
import { httpBuildQuery, parsePhpQuery, phpUrlencode } from './php-form.ts'
import { decodeForm } from './testkit.ts'

describe('httpBuildQuery behaves like PHP http_build_query (§6.2)', () => {
  test('nested keys are bracketed and percent-encoded, spaces become +', () => {
    const body = httpBuildQuery({
      data: { MESSAGES: [{ im: { chat_id: 1767 }, message: { text: 'Guten Tag!' } }] },
    })
    expect(body).toBe(
      'data%5BMESSAGES%5D%5B0%5D%5Bim%5D%5Bchat_id%5D=1767' +
        '&data%5BMESSAGES%5D%5B0%5D%5Bmessage%5D%5Btext%5D=Guten+Tag%21',
    )
  })

  test('empty arrays/objects and nulls vanish, booleans are 1/empty, numbers are strings', () => {
    const body = httpBuildQuery({ files: [], params: {}, gone: null, yes: true, no: false, n: 42, f: 1.5 })
    expect(body).toBe('yes=1&no=&n=42&f=1.5')
    expect(httpBuildQuery({ no: false }, { falseAs: '0' })).toBe('no=0')
  })

  test('PHP urlencode keeps only [A-Za-z0-9_.-]', () => {
    expect(phpUrlencode('a~b*c d/é')).toBe('a%7Eb%2Ac+d%2F%C3%A9')
  })

  test('more than 20 list elements keep their numeric indices and order', () => {
    const messages = Array.from({ length: 25 }, (_, i) => ({ message: { id: `tg-${i}` } }))
    const decoded = decodeForm(httpBuildQuery({ data: { MESSAGES: messages } })) as {
      data: { MESSAGES: Record<string, { message: { id: string } }> }
    }
    const keys = Object.keys(decoded.data.MESSAGES)
    expect(keys).toHaveLength(25)
    expect(decoded.data.MESSAGES['24']!.message.id).toBe('tg-24')
    expect(decoded.data.MESSAGES['9']!.message.id).toBe('tg-9')
  })

  test('round trip through the independent decoder: all scalars arrive as strings', () => {
    const decoded = decodeForm(
      httpBuildQuery({ event: 'X', data: { LINE: 12, A: [1, 2] }, auth: { user_id: 27 } }),
    )
    expect(decoded).toEqual({
      event: 'X',
      data: { LINE: '12', A: { '0': '1', '1': '2' } },
      auth: { user_id: '27' },
    })
  })
})

describe('parsePhpQuery behaves like PHP parse_str (§4.2, §4.5)', () => {
  test('bracket keys build nested arrays; lists become JSON arrays', () => {
    expect(parsePhpQuery('MESSAGES[0][user][id]=42&MESSAGES[0][message][text]=Hi&CONNECTOR=acme_tg')).toEqual(
      {
        MESSAGES: [{ user: { id: '42' }, message: { text: 'Hi' } }],
        CONNECTOR: 'acme_tg',
      },
    )
  })

  test('[] appends, later duplicates win, + is a space, %XX decodes, dots in names become _', () => {
    expect(parsePhpQuery('a[]=1&a[]=2&b=x&b=y&c=a+b%21&d.e=1')).toEqual({
      a: ['1', '2'],
      b: 'y',
      c: 'a b!',
      d_e: '1',
    })
  })

  test('non-sequential keys stay an object; __proto__ is an ordinary key', () => {
    const parsed = parsePhpQuery('m[2]=a&m[5]=b&__proto__[x]=1')
    expect(parsed.m).toEqual({ '2': 'a', '5': 'b' })
    expect(Object.keys(parsed)).toContain('__proto__')
    expect(({} as Record<string, unknown>).x).toBeUndefined()
  })
})
