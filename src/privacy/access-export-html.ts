/**
 * @module The readable report of an access export (D1), in Russian: one self-contained HTML page (inline
 * style, no scripts, no external resources; a CSP forbids any) with a summary per inventory class and every
 * item with its deletion deadline. Every value from the data is escaped: names and messages are written by
 * strangers and must not turn into markup in the reader's browser.
 */
import type { AccessExport, ExportedItem, ExportedValue, ItemRetention } from './access-export-types.ts'

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

const STORE_NAMES: Record<ExportedItem['store'], string> = {
  postgres: 'База данных',
  cache: 'Кеш',
  objects: 'Файловое хранилище',
}

/** Russian labels of the columns people will look for first; others keep their technical name. */
const COLUMN_LABELS: Record<string, string> = {
  remote_id: 'Идентификатор в мессенджере',
  display_name: 'Имя профиля',
  first_name: 'Имя',
  last_name: 'Фамилия',
  username: 'Имя пользователя',
  phone: 'Номер телефона',
  avatar_key: 'Фото (файл)',
  avatar_sent_key: 'Фото, переданное в Битрикс24 (файл)',
  credentials: 'Данные входа',
  payload: 'Содержимое',
  body: 'Содержимое',
  domain: 'Адрес портала',
  member_id: 'Идентификатор портала',
  sent_at: 'Время отправки',
  delivered_at: 'Время доставки',
  read_at: 'Время прочтения',
  status: 'Статус',
  settings: 'Настройки',
}

const moscowTime = new Intl.DateTimeFormat('ru-RU', {
  dateStyle: 'long',
  timeStyle: 'short',
  timeZone: 'Europe/Moscow',
})

const when = (iso: string) => `${moscowTime.format(new Date(iso))} (МСК)`

function valueHtml(value: ExportedValue): string {
  if (value === null) return '<span class="muted">—</span>'
  if (typeof value === 'object' && !Array.isArray(value)) {
    if ('withheld' in value && value.withheld === 'authentication-secret')
      return `<span class="muted">хранится в зашифрованном виде, не выдаётся: секрет входа (${Number(value.bytes)} байт)</span>`
    if ('unreadable' in value && typeof value.bytes === 'number')
      return `<span class="muted">хранится в зашифрованном виде, но не открывается текущими ключами (${value.bytes} байт)</span>`
    if ('binary' in value && typeof value.bytes === 'number')
      return `<span class="muted">двоичные данные, ${value.bytes} байт</span>`
  }
  if (typeof value === 'object') return `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`
  return escapeHtml(String(value))
}

function retentionHtml(retention: ItemRetention): string {
  const parts = retention.until.map((u) => `${escapeHtml(u.rule)}: ${escapeHtml(u.ru)}`)
  if (retention.deleteBy) parts.unshift(`будет удалено не позже ${escapeHtml(when(retention.deleteBy))}`)
  return parts.join('<br>')
}

function itemHtml(item: ExportedItem): string {
  let where: string
  let data: string
  if (item.store === 'postgres') {
    where = `${STORE_NAMES.postgres}: ${escapeHtml(item.table)}`
    const key = Object.entries(item.key).map(([k, v]) => `${escapeHtml(k)}=${escapeHtml(v)}`)
    data = `<dl>${Object.entries(item.data)
      .map(
        ([column, value]) =>
          `<dt>${escapeHtml(COLUMN_LABELS[column] ?? column)}</dt><dd>${valueHtml(value)}</dd>`,
      )
      .join('')}</dl><div class="muted">запись ${key.join(', ')}</div>`
  } else if (item.store === 'cache') {
    where = STORE_NAMES.cache
    data = `${escapeHtml(item.key)}<br>${
      item.value === null
        ? '<span class="muted">запись содержит и данные других людей; значение не выдаётся</span>'
        : `<pre>${escapeHtml(item.value)}</pre>`
    }`
  } else {
    where = STORE_NAMES.objects
    data = `${escapeHtml(item.key)}<br>${item.size} байт, записан ${escapeHtml(when(item.lastModified))}`
  }
  return `<tr><td>${where}</td><td>${data}</td><td>${retentionHtml(item.retention)}</td></tr>`
}

const STYLE = `body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}.muted{color:#6a737f}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #d6d9dd;padding:6px 8px;vertical-align:top;text-align:left}pre{white-space:pre-wrap;margin:0}
dl{margin:0}dt{font-weight:600}dd{margin:0 0 4px}`

const SCOPE_TEXT = (report: AccessExport) =>
  report.scope.kind === 'portal'
    ? 'все данные портала'
    : report.scope.kind === 'account'
      ? `аккаунт мессенджера ${escapeHtml(report.scope.accountId)}`
      : `контакт (${Object.entries(report.scope.contact)
          .map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(v)}`)
          .join(', ')})`

export function renderAccessReport(report: AccessExport): string {
  const summary = report.classes
    .map(
      (c) =>
        `<tr><td>${escapeHtml(c.id)}</td><td>${escapeHtml(c.title.ru)}</td><td>${c.items.length}</td></tr>`,
    )
    .join('')
  const sections = report.classes
    .map((c) => {
      const rows = c.items.map(itemHtml).join('')
      const body =
        c.items.length === 0
          ? '<p class="muted">Олчат не хранит данных этой категории по запросу.</p>'
          : `<table><tr><th>Где</th><th>Данные</th><th>Срок хранения</th></tr>${rows}</table>`
      return `<section id="${escapeHtml(c.id)}"><h2>${escapeHtml(c.id)}. ${escapeHtml(c.title.ru)}</h2>
<p class="muted">Источник: ${escapeHtml(c.source.ru)}</p>${body}</section>`
    })
    .join('\n')
  return `<!doctype html>
<html lang="ru"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width">
<title>Персональные данные в Олчат — ${escapeHtml(report.portal.domain)}</title><style>${STYLE}</style></head>
<body><h1>Какие персональные данные хранит Олчат</h1>
<p>Портал: <b>${escapeHtml(report.portal.domain)}</b> (member_id ${escapeHtml(report.portal.memberId)}).
Объём запроса: ${SCOPE_TEXT(report)}.<br>Сформировано ${escapeHtml(when(report.generatedAt))},
номер запроса ${escapeHtml(report.requestId)}.</p>
<p class="muted">Тексты сообщений и файлы, доставленные в Битрикс24, хранятся на портале Битрикс24, а не в Олчат.
Секреты входа (сессии мессенджеров, токены приложения) хранятся зашифрованными и не выдаются.</p>
<table><tr><th>Категория</th><th>Данные</th><th>Записей</th></tr>${summary}</table>
${sections}
</body></html>
`
}
