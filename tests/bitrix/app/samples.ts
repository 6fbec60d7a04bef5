/**
 * Event bodies written by hand as Bitrix24 posts them (reference/bitrix24.md §2.3, §2.5, §6.4–6.9):
 * `application/x-www-form-urlencoded`, PHP `http_build_query` encoding (brackets as %5B %5D, space as +), all
 * scalars strings, empty arrays absent. The connector id is ours instead of the docs' `acme_tg`.
 */

export interface Auth {
  memberId: string
  appToken: string
}

const B = (key: string) => key.replace(/\[/g, '%5B').replace(/\]/g, '%5D')

/** §6.3 auth block of an operator-triggered event (tokens of the operator, user 27). */
export function authBlock({ memberId, appToken }: Auth, { tokens = true } = {}): string {
  const tokenPart = tokens
    ? [
        `${B('auth[access_token]')}=s6p6eclrvim6da22ft9ch94ekreb52lv`,
        `${B('auth[expires]')}=1773762761`,
        `${B('auth[expires_in]')}=3600`,
        `${B('auth[scope]')}=imopenlines%2Cimconnector`,
      ]
    : []
  return [
    ...tokenPart,
    `${B('auth[domain]')}=acme.bitrix24.ru`,
    `${B('auth[server_endpoint]')}=https%3A%2F%2Foauth.bitrix.info%2Frest%2F`,
    `${B('auth[status]')}=F`,
    `${B('auth[client_endpoint]')}=https%3A%2F%2Facme.bitrix24.ru%2Frest%2F`,
    `${B('auth[member_id]')}=${memberId}`,
    ...(tokens ? [`${B('auth[user_id]')}=27`] : []),
    `${B('auth[application_token]')}=${appToken}`,
  ].join('&')
}

/** §6.4, with both files of the documented JSON (encoded brackets). */
export function messageAdd(
  auth: Auth,
  { line = '12', chat = 'tg-chat-77', messageId = '86497' } = {},
): string {
  const m = (key: string) => B(`data[MESSAGES][0]${key}`)
  return [
    'event=ONIMCONNECTORMESSAGEADD',
    'event_handler_id=555',
    `${B('data[CONNECTOR]')}=olchat_telegram`,
    `${B('data[LINE]')}=${line}`,
    `${m('[im][chat_id]')}=1767`,
    `${m('[im][message_id]')}=${messageId}`,
    `${m('[message][user_id]')}=27`,
    `${m('[message][text]')}=%5Bb%5DKlaus+Weber%3A%5B%2Fb%5D+%5Bbr%5DGuten+Tag%21`,
    `${m('[message][files][0][name]')}=photo.jpg`,
    `${m('[message][files][0][type]')}=image`,
    `${m('[message][files][0][mime]')}=image%2Fjpeg`,
    `${m('[message][files][0][link]')}=https%3A%2F%2Facme.bitrix24.ru%2F%7EAb3dE%23img.jpg`,
    `${m('[message][files][0][width]')}=1280`,
    `${m('[message][files][0][height]')}=960`,
    `${m('[message][files][0][size]')}=183412`,
    `${m('[message][files][0][sizef]')}=179.1+KB`,
    `${m('[message][files][1][name]')}=offer.pdf`,
    `${m('[message][files][1][type]')}=file`,
    `${m('[message][files][1][mime]')}=application%2Fpdf`,
    `${m('[message][files][1][link]')}=https%3A%2F%2Facme.bitrix24.ru%2F%7EXy9Qw`,
    `${m('[message][files][1][size]')}=55012`,
    `${m('[message][files][1][sizef]')}=53.7+KB`,
    `${m('[message][params][CLASS]')}=bx-messenger-content-item-ol-output`,
    `${m('[chat][id]')}=${chat}`,
    'ts=1773759161',
    authBlock(auth),
  ].join('&')
}

/** §6.4: the real 2023 capture — literal brackets, no files, attachments or params (empty arrays vanish). */
export function messageAddCapture(auth: Auth): string {
  return [
    'event=ONIMCONNECTORMESSAGEADD&data[CONNECTOR]=olchat_telegram&data[LINE]=12',
    '&data[MESSAGES][0][im][chat_id]=1767&data[MESSAGES][0][im][message_id]=86498',
    '&data[MESSAGES][0][message][user_id]=27',
    '&data[MESSAGES][0][message][text]=%5Bb%5DKlaus+Weber%3A%5B%2Fb%5D+%5Bbr%5DGuten+Tag%21',
    '&data[MESSAGES][0][chat][id]=tg-chat-77&ts=1773759162',
    `&auth[access_token]=s6p6eclrvim6da22ft9ch94ekreb52lv&auth[member_id]=${auth.memberId}`,
    `&auth[application_token]=${auth.appToken}`,
  ].join('')
}

/** §6.5: `message.id` is the array given in the delivery status. */
export function messageUpdate(auth: Auth): string {
  const m = (key: string) => B(`data[MESSAGES][0]${key}`)
  return [
    'event=ONIMCONNECTORMESSAGEUPDATE',
    `${B('data[CONNECTOR]')}=olchat_telegram&${B('data[LINE]')}=12`,
    `${m('[im][chat_id]')}=1767&${m('[im][message_id]')}=86501`,
    `${m('[message][id][0]')}=tg-5551`,
    `${m('[message][text]')}=%5Bb%5DKlaus+Weber%3A%5B%2Fb%5D%5Bbr%5D+corrected+text`,
    `${m('[chat][id]')}=tg-chat-77`,
    'ts=1773759200',
    authBlock(auth),
  ].join('&')
}

/** §6.6: one element per stored messenger id, `message.id` a scalar. */
export function messageDelete(auth: Auth): string {
  const m = (i: number, key: string) => B(`data[MESSAGES][${i}]${key}`)
  return [
    'event=ONIMCONNECTORMESSAGEDELETE',
    `${B('data[CONNECTOR]')}=olchat_telegram&${B('data[LINE]')}=12`,
    ...[0, 1].flatMap((i) => [
      `${m(i, '[im][chat_id]')}=1767`,
      `${m(i, '[im][message_id]')}=86501`,
      `${m(i, '[message][id]')}=tg-555${i + 1}`,
      `${m(i, '[chat][id]')}=tg-chat-77`,
    ]),
    'ts=1773759300',
    authBlock(auth),
  ].join('&')
}

/** §6.7 (DATA, not MESSAGES); a FINISH from the auto-close agent has no tokens. */
export function dialog(auth: Auth, kind: 'START' | 'FINISH', ts = '1773759400'): string {
  const d = (key: string) => B(`data[DATA][0]${key}`)
  const closed = kind === 'FINISH' ? 'Y' : 'N'
  return [
    `event=ONIMCONNECTORDIALOG${kind}`,
    `${B('data[CONNECTOR]')}=olchat_telegram&${B('data[LINE]')}=12`,
    `${d('[connector][connector_id]')}=olchat_telegram&${d('[connector][line_id]')}=12`,
    `${d('[connector][chat_id]')}=tg-chat-77&${d('[connector][user_id]')}=585`,
    `${d('[session][id]')}=3282&${d('[session][closed]')}=${closed}`,
    `${d('[session][parent_id]')}=0&${d('[session][close_term]')}=10`,
    `${d('[chat][id]')}=tg-chat-77&${d('[user][id]')}=585`,
    `ts=${ts}`,
    authBlock(auth, { tokens: kind === 'START' }),
  ].join('&')
}

/** §6.8: lowercase keys. */
export function statusDelete(auth: Auth, line = '12'): string {
  return [
    'event=ONIMCONNECTORSTATUSDELETE',
    `${B('data[connector]')}=olchat_telegram&${B('data[line]')}=${line}`,
    'ts=1773759500',
    authBlock(auth),
  ].join('&')
}

/** §6.9: `data` is the line id itself. */
export function lineDelete(auth: Auth, line = '12'): string {
  return `event=ONIMCONNECTORLINEDELETE&data=${line}&ts=1773759600&${authBlock(auth)}`
}

/** §2.3, the documented sample. */
export function appInstall(auth: Auth, accessToken = 's6p6eclrvim6da22ft9ch94ekreb52lv'): string {
  return [
    'event=ONAPPINSTALL',
    `${B('data[VERSION]')}=1&${B('data[ACTIVE]')}=Y&${B('data[INSTALLED]')}=Y&${B('data[LANGUAGE_ID]')}=ru`,
    'ts=1696527000',
    `${B('auth[access_token]')}=${accessToken}`,
    `${B('auth[expires]')}=1696530600&${B('auth[expires_in]')}=3600`,
    `${B('auth[scope]')}=imopenlines%2Cimconnector`,
    `${B('auth[domain]')}=some-domain.bitrix24.com`,
    `${B('auth[server_endpoint]')}=https%3A%2F%2Foauth.bitrix.info%2Frest%2F`,
    `${B('auth[status]')}=F`,
    `${B('auth[client_endpoint]')}=https%3A%2F%2Fsome-domain.bitrix24.com%2Frest%2F`,
    `${B('auth[member_id]')}=${auth.memberId}`,
    `${B('auth[user_id]')}=1`,
    `${B('auth[refresh_token]')}=4s386p3q0tr8dy89xvmt96234v3dljg8`,
    `${B('auth[application_token]')}=${auth.appToken}`,
  ].join('&')
}

/** §2.5: no usable tokens; CLEAN is "1" or "0". */
export function appUninstall(auth: Auth, clean: '0' | '1' = '1'): string {
  return [
    'event=ONAPPUNINSTALL',
    `${B('data[LANGUAGE_ID]')}=ru&${B('data[CLEAN]')}=${clean}`,
    'ts=1466439714',
    `${B('auth[domain]')}=acme.bitrix24.ru`,
    `${B('auth[server_endpoint]')}=https%3A%2F%2Foauth.bitrix.info%2Frest%2F`,
    `${B('auth[client_endpoint]')}=https%3A%2F%2Facme.bitrix24.ru%2Frest%2F`,
    `${B('auth[member_id]')}=${auth.memberId}`,
    `${B('auth[application_token]')}=${auth.appToken}`,
  ].join('&')
}

/** §2.5: ONAPPUPDATE carries the versions (and tokens incl. refresh). */
export function appUpdate(auth: Auth): string {
  return [
    'event=ONAPPUPDATE',
    `${B('data[VERSION]')}=2&${B('data[PREVIOUS_VERSION]')}=1&${B('data[LANGUAGE_ID]')}=ru`,
    'ts=1773760000',
    authBlock(auth),
  ].join('&')
}
