/**
 * @module The HTML Bitrix24 shows in its iframe: the install page (loads BX24.js and calls
 * `BX24.installFinish()`, reference/bitrix24.md §2.1 — without it no event is ever sent), error pages and the
 * connector settings page (§7). Russian first, English when the portal user's language is another one. Every
 * value is escaped; nothing here sets X-Frame-Options, so the portal can frame it.
 */
import type { Account } from '../../../storage/repos/accounts.ts'
import { escapeHtml } from '../bbcode.ts'

export type Lang = 'ru' | 'en'

const RUSSIAN = new Set(['ru', 'ua', 'by', 'kz'])

/** §2.2 `LANG`: Russian unless the portal names another language. */
export function langOf(lang: string | undefined): Lang {
  if (!lang) return 'ru'
  return RUSSIAN.has(lang.slice(0, 2).toLowerCase()) ? 'ru' : 'en'
}

/** The marker the portal emulator looks for to know the install page finished the install. */
export const INSTALL_FINISH_MARKER = 'data-olchat-install-finish'

const STYLE = `body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:24px;color:#333}
h1{font-size:20px;margin:0 0 12px}.muted{color:#6a737f}
.notice{padding:8px 12px;border-radius:6px;background:#eef6e9}
.error{background:#fdecea}table{border-collapse:collapse;margin-top:12px}td{padding:6px 12px 6px 0}
button{padding:5px 14px;border-radius:4px;border:1px solid #bdc1c6;background:#fff;cursor:pointer}`

function layout(lang: Lang, title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title><style>${STYLE}</style>${head}</head>
${body}
</html>`
}

const INSTALL_TEXT = {
  ru: {
    title: 'Olchat установлен',
    body: 'Коннекторы Telegram и MAX добавлены в Контакт-центр. Подключите их к открытой линии там.',
  },
  en: {
    title: 'Olchat is installed',
    body:
      'The Telegram and MAX connectors were added to the Contact Center. ' +
      'Connect them to an Open Line there.',
  },
}

/** §2.1: finishes the install from inside the portal's frame. */
export function installPage(lang: Lang): string {
  const text = INSTALL_TEXT[lang]
  return layout(
    lang,
    text.title,
    `<body ${INSTALL_FINISH_MARKER}>
<h1>${text.title}</h1><p>${text.body}</p>
<script>BX24.init(function () { BX24.installFinish() })</script>
</body>`,
    '<script src="//api.bitrix24.com/api/v1/"></script>',
  )
}

export function errorPage(
  lang: Lang,
  title: { ru: string; en: string },
  message: { ru: string; en: string },
) {
  return layout(
    lang,
    title[lang],
    `<body><h1>${escapeHtml(title[lang])}</h1>` +
      `<p class="notice error">${escapeHtml(message[lang])}</p></body>`,
  )
}

export interface PlacementView {
  lang: Lang
  connectorName: string
  lineId: string
  /** Accounts of the portal that can serve this connector's messenger. */
  accounts: Account[]
  /** `lines.id` of this connector and line, when it exists. */
  lineRowId: string | null
  /** The messenger's accounts have an owner writing from a phone: offer the employee field. */
  ownMessages: boolean
  session: string
  actionUrl: string
  notice?: { ok: boolean; text: string }
}

const PLACEMENT_TEXT = {
  ru: {
    title: (name: string, line: string) => `${name}: открытая линия ${line}`,
    none:
      'Подключённых аккаунтов пока нет. ' +
      'Подключите аккаунт в панели Olchat, затем откройте эту страницу снова.',
    bound: 'обслуживает эту линию',
    elsewhere: 'подключён к другой линии',
    needsLogin: 'нужен повторный вход: войдите в аккаунт снова в панели Olchat — линия и чаты сохранятся',
    disconnected: 'отключён: войдите в аккаунт снова в панели Olchat, чтобы он заработал',
    bind: 'Подключить к этой линии',
    unbind: 'Отключить',
    employee: 'ID сотрудника',
    save: 'Сохранить',
    employeeNote:
      'Сообщения, которые владелец аккаунта пишет сам (например, с телефона), появляются в открытой линии ' +
      'от имени сотрудника Битрикс24 с указанным ID — это число из адреса его профиля ' +
      '(…/company/personal/user/ID/). Поле пустое — такие сообщения в Битрикс24 не передаются.',
  },
  en: {
    title: (name: string, line: string) => `${name}: Open Line ${line}`,
    none: 'No accounts are connected yet. Connect one in the Olchat panel, then open this page again.',
    bound: 'serves this line',
    elsewhere: 'bound to another line',
    needsLogin: 'needs a new login: log the account in again in the Olchat panel — its line and chats stay',
    disconnected: 'disconnected: log the account in again in the Olchat panel to use it',
    bind: 'Bind to this line',
    unbind: 'Unbind',
    employee: 'Employee ID',
    save: 'Save',
    employeeNote:
      'Messages the account owner writes themselves (from the phone, say) appear in the Open Line as the ' +
      "messages of the Bitrix24 employee with this ID — the number in the address of the employee's profile " +
      '(…/company/personal/user/ID/). Left empty, such messages are not relayed to Bitrix24.',
  },
}

function accountLabel(account: Account): string {
  const name = account.displayName ?? account.username ?? account.messenger
  return account.username && account.displayName ? `${name} (@${account.username})` : name
}

export function placementPage(view: PlacementView): string {
  const text = PLACEMENT_TEXT[view.lang]
  const title = text.title(view.connectorName, view.lineId)
  const form = (action: 'bind' | 'unbind' | 'employee', accountId: string, inner: string) =>
    `<form method="post" action="${escapeHtml(view.actionUrl)}">` +
    `<input type="hidden" name="session" value="${escapeHtml(view.session)}">` +
    `<input type="hidden" name="action" value="${action}">` +
    `<input type="hidden" name="account" value="${escapeHtml(accountId)}">` +
    `${inner}</form>`
  const button = (label: string) => `<button type="submit">${label}</button>`
  const employeeForm = (account: Account) =>
    form(
      'employee',
      account.id,
      `<label>${text.employee} <input name="employee" value="${escapeHtml(account.employeeId ?? '')}" ` +
        `inputmode="numeric" pattern="[0-9]*" size="8"></label> ${button(text.save)}`,
    )
  const rows = view.accounts.map((account) => {
    const here = view.lineRowId !== null && account.lineId === view.lineRowId
    const bindingState = here ? text.bound : account.lineId !== null ? text.elsewhere : ''
    // No session: say so, and that logging the same account in again keeps its line (POST /accounts/:id/login).
    const login =
      account.health === 'needs_login'
        ? text.needsLogin
        : account.health === 'disconnected'
          ? text.disconnected
          : ''
    const state = [bindingState, login].filter(Boolean).join('; ')
    const binding = here
      ? form('unbind', account.id, button(text.unbind))
      : form('bind', account.id, button(text.bind))
    const employee = view.ownMessages ? `<td>${employeeForm(account)}</td>` : ''
    const label = escapeHtml(accountLabel(account))
    return `<tr><td>${label}</td><td class="muted">${state}</td><td>${binding}</td>${employee}</tr>`
  })
  const notice = view.notice
    ? `<p class="notice${view.notice.ok ? '' : ' error'}">${escapeHtml(view.notice.text)}</p>`
    : ''
  const list = rows.length > 0 ? `<table>${rows.join('')}</table>` : `<p class="muted">${text.none}</p>`
  const note = view.ownMessages && rows.length > 0 ? `<p class="muted">${text.employeeNote}</p>` : ''
  return layout(view.lang, title, `<body><h1>${escapeHtml(title)}</h1>${notice}${list}${note}</body>`)
}
