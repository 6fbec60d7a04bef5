/**
 * @module The product's page "Хранение персональных данных" (Russian first, English on request), rendered
 * from the running policy (inventory classes I1–I6, retention rules R1–R8) and this installation's facts
 * (periods, stores, TLS, backup expiry). Nothing on it is typed in twice: change a period in the
 * configuration and the page changes with the sweep that enforces it.
 */
import { escapeHtml } from './access-export-html.ts'
import { privacyPolicy } from './policy.ts'
import type { PrivacyPolicy } from './policy-types.ts'
import type { PrivacyFacts } from './privacy-page-facts.ts'
import { keptText, type Lang, russianDays, russianDaysGenitive } from './privacy-page-retention.ts'
import { classItems, protectionItems, storageItems } from './privacy-page-text.ts'

const T = {
  title: { ru: 'Хранение персональных данных', en: 'Personal data storage' },
  intro: {
    ru: 'Олчат обрабатывает персональные данные пользователей в рамках предоставления сервиса интеграции мессенджеров с Битрикс24. В этом разделе описано, какие данные обрабатываются, как они хранятся и как запросить их удаление.',
    en: 'Olchat processes personal data to provide its service: connecting messengers to Bitrix24. This page describes what data is processed, how it is stored and how to have it deleted.',
  },
  what: { ru: 'Какие данные обрабатываются', en: 'What data is processed' },
  where: { ru: 'Где хранятся данные', en: 'Where the data is stored' },
  portalSide: {
    ru: 'Сообщения и файлы, переданные в Битрикс24, хранятся на серверах портала Битрикс24 в соответствии с политикой хранения данных вашего тарифа Битрикс24.',
    en: "Messages and files delivered to Bitrix24 are stored on the Bitrix24 portal's servers under the data policy of your Bitrix24 plan.",
  },
  periods: { ru: 'Сроки хранения', en: 'How long data is kept' },
  kind: { ru: 'Тип данных', en: 'Data' },
  kept: { ru: 'Срок хранения', en: 'Kept' },
  backups: { ru: 'Резервные копии', en: 'Backups' },
  cleanup: { ru: 'Автоматическая очистка', en: 'Automatic clean-up' },
  protection: { ru: 'Защита данных', en: 'How the data is protected' },
  rights: { ru: 'Ваши права', en: 'Your rights' },
  legal: { ru: 'Правовые основания', en: 'Legal basis' },
  generated: {
    ru: 'Страница сформирована из действующей политики хранения Олчат и настроек этой установки.',
    en: "This page is generated from Olchat's retention policy in force and this installation's settings.",
  },
}

function list(items: string[]): string {
  return `<ul>${items.map((item) => `<li>${escapeHtml(item)}</li>`).join('')}</ul>`
}

function cleanup(facts: PrivacyFacts, lang: Lang): string[] {
  const days = (n: number) => (lang === 'ru' ? russianDays(n) : n === 1 ? '1 day' : `${n} days`)
  const { periods } = facts
  return lang === 'ru'
    ? [
        'Кеш контактов обновляется и очищается при отключении аккаунта мессенджера.',
        `Устаревшие данные (stale) помечаются и удаляются автоматически через ${days(periods.R6)}.`,
        `Метаданные сообщений удаляются через ${days(periods.R3)}.`,
        `Аналитические данные ротируются с сохранением истории за ${days(periods.R7)}.`,
        `Недоставленные сообщения и файлы удаляются не позднее чем через ${days(periods.R8)}; после доставки Олчат не хранит их.`,
      ]
    : [
        'The contact cache is refreshed, and cleared when the messenger account is disconnected.',
        `Stale data is marked and deleted automatically after ${days(periods.R6)}.`,
        `Message metadata is deleted after ${days(periods.R3)}.`,
        `Analytics are rotated, keeping a ${days(periods.R7)} history.`,
        `Undelivered messages and files are deleted after ${days(periods.R8)} at the latest; once delivered, Olchat keeps none.`,
      ]
}

function rights(lang: Lang): string {
  if (lang === 'en') {
    return `<p>You may ask which of your personal data Olchat processes. Write to technical support with the Bitrix24 portal address and what you want to know: you receive a complete report (machine-readable JSON and a readable report) of every item held, with the date it will be deleted.</p>
<p>To delete personal data:</p><ol>
<li><b>Disconnect the messenger account</b> in the Olchat panel — its session, contacts and cache are cleared.</li>
<li><b>Remove the app</b> Olchat from the Bitrix24 Marketplace — all settings and data of the portal are deleted.</li>
<li><b>Full deletion request</b> — ask technical support to delete everything about a portal or one contact; you receive a deletion receipt.</li></ol>
<p>Messages delivered to Bitrix24 Open Lines are part of your portal's data and governed by Bitrix24's policy. Olchat has no access to messages after delivery.</p>`
  }
  return `<p>Вы имеете право запросить информацию о том, какие ваши персональные данные обрабатываются Олчат. Для этого обратитесь в техническую поддержку с указанием адреса портала Битрикс24 и описания запрашиваемой информации: вы получите полный отчёт (машиночитаемый JSON и читаемый отчёт) обо всех хранимых данных со сроком удаления каждой записи.</p>
<p>Для удаления персональных данных:</p><ol>
<li><b>Удаление аккаунта мессенджера.</b> Отключите аккаунт мессенджера в панели Олчат — связанные данные (сессия, контакты, кеш) будут очищены.</li>
<li><b>Удаление приложения.</b> Удалите приложение Олчат из Маркетплейса Битрикс24 — все настройки и данные портала будут удалены.</li>
<li><b>Запрос на полное удаление.</b> Для полного удаления всех данных портала или одного контакта обратитесь в техническую поддержку — вы получите квитанцию об удалении.</li></ol>
<p>Сообщения, доставленные в открытые линии Битрикс24, являются частью данных вашего портала Битрикс24 и управляются в соответствии с политикой Битрикс24. Олчат не имеет доступа к сообщениям после их доставки.</p>`
}

const LEGAL = {
  ru: [
    'Федеральным законом № 152-ФЗ «О персональных данных».',
    'Требованиями Маркетплейса Битрикс24 к приложениям-партнёрам.',
    'Условиями использования мессенджеров Telegram и MAX.',
  ],
  en: [
    'Russian Federal Law No. 152-FZ "On Personal Data".',
    "The Bitrix24 Marketplace's requirements for partner apps.",
    'The terms of use of the Telegram and MAX messengers.',
  ],
}

const STYLE = `body{font:15px/1.55 -apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0 auto;padding:24px;max-width:860px;color:#222}
h1{font-size:26px}h2{font-size:19px;margin-top:32px}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #d6d9dd;padding:6px 10px;text-align:left;vertical-align:top}.muted{color:#6a737f}nav{float:right}`

export function renderPrivacyPage(
  facts: PrivacyFacts,
  lang: Lang,
  policy: PrivacyPolicy = privacyPolicy,
): string {
  const items = classItems(facts.periods)
  const classes = Object.values(policy.classes)
    .map(
      (c) =>
        `<h3>${escapeHtml(c.title[lang])}</h3><p>${escapeHtml(items[c.id].lead[lang])}</p>${list(items[c.id].items.map((i) => i[lang]))}`,
    )
    .join('\n')
  const rows = Object.values(policy.rules)
    .map(
      (rule) =>
        `<tr><td>${escapeHtml(rule.covers[lang])}</td><td>${escapeHtml(keptText(rule, facts.periods)[lang])}</td></tr>`,
    )
    .join('')
  const backupKept =
    lang === 'ru' ? `До ${russianDaysGenitive(facts.backupDays)}` : `${facts.backupDays} days`
  const other = lang === 'ru' ? '<a href="?lang=en">English</a>' : '<a href="?lang=ru">Русский</a>'
  return `<!doctype html>
<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(T.title[lang])} — Олчат</title><style>${STYLE}</style></head>
<body><nav>${other}</nav><h1>${escapeHtml(T.title[lang])}</h1>
<p>${escapeHtml(T.intro[lang])}</p>
<h2>${escapeHtml(T.what[lang])}</h2>
${classes}
<h2>${escapeHtml(T.where[lang])}</h2>
${list(storageItems(facts).map((i) => i[lang]))}
<p>${escapeHtml(T.portalSide[lang])}</p>
<h2>${escapeHtml(T.periods[lang])}</h2>
<table><tr><th>${escapeHtml(T.kind[lang])}</th><th>${escapeHtml(T.kept[lang])}</th></tr>${rows}
<tr><td>${escapeHtml(T.backups[lang])}</td><td>${escapeHtml(backupKept)}</td></tr></table>
<h2>${escapeHtml(T.cleanup[lang])}</h2>
${list(cleanup(facts, lang))}
<h2>${escapeHtml(T.protection[lang])}</h2>
${list(protectionItems(facts).map((i) => i[lang]))}
<h2>${escapeHtml(T.rights[lang])}</h2>
${rights(lang)}
<h2>${escapeHtml(T.legal[lang])}</h2>
<p>${lang === 'ru' ? 'Олчат обрабатывает персональные данные в соответствии с:' : 'Olchat processes personal data in accordance with:'}</p>
${list(LEGAL[lang])}
<p class="muted">${escapeHtml(T.generated[lang])}</p>
</body></html>
`
}
