/**
 * @module The privacy policy as data (PRIVACY.md I1–I6, R1–R8): for every inventory class where it is
 * stored, under which retention rule, and what deletes it; plus the technical (non-personal) columns and
 * keys. Written by hand on purpose — never derived from the schema — so `inventory-check.ts` can use it as
 * the allow-list: a column, cache key or object the policy does not name fails the check.
 *
 * Every column of every table is declared exactly once (a class location or a technical entry); partitions
 * of `messages` are covered by the parent. Overdue conditions: `$1` is the rule's cutoff (now − period −
 * grace), `$2` is now − grace (see `policy-types.ts`).
 */
import { retentionRules } from './policy-rules.ts'
import { tableOwners, technicalData } from './policy-technical.ts'
import type { OverdueCheck, PrivacyPolicy, RuleId } from './policy-types.ts'

const disconnectedAccounts = `select id from accounts where health = 'disconnected' and health_changed_at < $2`

/** Rows of an account that was disconnected longer than the grace ago (R1, R2: cleared on disconnect). */
const ofDisconnectedAccount = (rule: RuleId, finds: string): OverdueCheck => ({
  rule,
  finds,
  where: `account_id in (${disconnectedAccounts})`,
})

export const privacyPolicy: PrivacyPolicy = {
  rules: retentionRules,
  classes: {
    I1: {
      id: 'I1',
      title: { en: 'Messenger account', ru: 'Аккаунт мессенджера' },
      source: { en: 'connecting an account', ru: 'подключение аккаунта' },
      locations: [
        {
          store: 'postgres',
          table: 'accounts',
          columns: ['remote_id', 'display_name', 'username', 'phone_enc', 'avatar_key'],
          rules: ['R1'],
          triggers: ['disconnect', 'uninstall', 'support-deletion'],
          overdue: [
            {
              rule: 'R1',
              finds: 'profile (id, name, username, phone, photo) kept on a disconnected account',
              where: `id in (${disconnectedAccounts}) and (remote_id is not null or display_name is not null
                or username is not null or phone_enc is not null or avatar_key is not null)`,
            },
          ],
        },
        {
          store: 'postgres',
          table: 'accounts',
          columns: ['credentials_enc'],
          rules: ['R1'],
          triggers: ['disconnect', 'uninstall', 'support-deletion'],
          overdue: [
            {
              rule: 'R1',
              finds: 'credentials kept on a disconnected account',
              where: `id in (${disconnectedAccounts}) and credentials_enc is not null`,
            },
          ],
        },
        ...(['account_sessions', 'telegram_kv'] as const).map((table) => ({
          store: 'postgres' as const,
          table,
          columns: ['value_enc'],
          rules: ['R1'] as const,
          triggers: ['disconnect', 'uninstall', 'support-deletion'] as const,
          overdue: [ofDisconnectedAccount('R1', 'session state of a disconnected account')],
        })),
        {
          store: 'postgres',
          table: 'telegram_auth_keys',
          columns: ['key_enc'],
          rules: ['R1'],
          triggers: ['disconnect', 'uninstall', 'support-deletion'],
          overdue: [ofDisconnectedAccount('R1', 'auth keys of a disconnected account')],
        },
        {
          store: 'objects',
          // The account's small profile photo, kept by the profile refresh (src/accounts/own-profile.ts) and
          // named by `accounts.avatar_key`; replaced when the photo changes, gone with the account's prefix.
          pattern: 'p/{portal}/a/{account}/profile/{id}',
          rules: ['R1'],
          triggers: ['disconnect', 'uninstall', 'support-deletion'],
          boundTo: 'account',
        },
      ],
    },
    I2: {
      id: 'I2',
      title: { en: 'Contacts of an account', ru: 'Контакты аккаунта' },
      source: { en: 'contact sync', ru: 'синхронизация контактов' },
      locations: [
        {
          store: 'postgres',
          table: 'contacts',
          // `avatar_sent_key`: the photo last queued to the portal (only a changed one is sent again).
          columns: [
            'remote_id',
            'first_name',
            'last_name',
            'username',
            'phone_enc',
            'avatar_key',
            'avatar_sent_key',
          ],
          rules: ['R2', 'R6'],
          triggers: ['disconnect', 'uninstall', 'support-deletion', 'retention'],
          overdue: [
            ofDisconnectedAccount('R2', 'contacts of a disconnected account'),
            { rule: 'R6', finds: 'contacts stale longer than the period', where: 'stale_at < $1' },
          ],
        },
        {
          store: 'postgres',
          table: 'telegram_peers',
          columns: ['peer_id', 'info_enc', 'complete_enc'],
          rules: ['R2'],
          triggers: ['disconnect', 'uninstall', 'support-deletion'],
          overdue: [ofDisconnectedAccount('R2', 'peers of a disconnected account')],
        },
        {
          store: 'postgres',
          table: 'telegram_message_refs',
          columns: ['peer_id', 'chat_id', 'msg_id'],
          rules: ['R2'],
          triggers: ['disconnect', 'uninstall', 'support-deletion'],
          overdue: [ofDisconnectedAccount('R2', 'peer references of a disconnected account')],
        },
        {
          store: 'objects',
          // Small contact avatars of the contact sync (src/accounts/contact-sync.ts), named by `avatar_key`;
          // the stale sweep deletes them with their contact, a disconnect with the account's prefix.
          pattern: 'p/{portal}/a/{account}/avatars/{id}',
          rules: ['R2', 'R6'],
          triggers: ['disconnect', 'uninstall', 'support-deletion', 'retention'],
          boundTo: 'account',
        },
        {
          store: 'cache',
          // The account's contact list for display; cleared with the account's prefix on disconnect.
          pattern: 'p:{portal}:a:{account}:contacts',
          rules: ['R2'],
          triggers: ['disconnect', 'uninstall', 'support-deletion'],
          boundTo: 'account',
        },
      ],
    },
    I3: {
      id: 'I3',
      title: { en: 'Message text', ru: 'Текст сообщений' },
      source: { en: 'relay (stored on the portal, not by Olchat)', ru: 'передача (хранится на портале)' },
      locations: [
        {
          store: 'postgres',
          table: 'deliveries',
          columns: ['payload_enc'],
          rules: ['R8'],
          triggers: ['retention', 'uninstall', 'support-deletion'],
          overdue: [
            {
              rule: 'R8',
              finds: 'message bodies kept past delivery or past their 7 days',
              where: `payload_enc is not null and (status = 'done' or expires_at < $2 or created_at < $1)`,
            },
          ],
        },
        {
          store: 'postgres',
          table: 'max_updates',
          columns: ['body_enc'],
          rules: ['R8'],
          triggers: ['retention', 'disconnect', 'uninstall', 'support-deletion'],
          overdue: [
            {
              rule: 'R8',
              finds: 'MAX update bodies kept past their 7 days',
              where: 'body_enc is not null and received_at < $1',
            },
          ],
        },
        {
          store: 'postgres',
          table: 'inbound_events',
          columns: ['payload_enc'],
          rules: ['R8'],
          triggers: ['retention', 'uninstall', 'support-deletion'],
          overdue: [
            {
              rule: 'R8',
              finds: 'operator message bodies kept past their 7 days',
              where: 'payload_enc is not null and received_at < $1',
            },
          ],
        },
      ],
    },
    I4: {
      id: 'I4',
      title: { en: 'Files in transfer', ru: 'Файлы (временное хранение для передачи)' },
      source: { en: 'relay through object storage', ru: 'передача через файловое хранилище' },
      locations: [
        {
          store: 'objects',
          pattern: 'p/{portal}/a/{account}/in/{id}',
          rules: ['R8'],
          triggers: ['retention', 'disconnect', 'uninstall', 'support-deletion'],
          boundTo: 'account',
          maxAge: 'R8',
        },
      ],
    },
    I5: {
      id: 'I5',
      title: { en: 'Message metadata', ru: 'Метаданные сообщений' },
      source: { en: 'relay', ru: 'передача сообщений' },
      locations: [
        {
          store: 'postgres',
          table: 'messages',
          // `employee_id`, `echo_id`: an owner's own message shown as a Bitrix24 employee's, and the portal's
          // echo of it (src/bitrix/app/echo-guard.ts).
          columns: [
            'direction',
            'origin_id',
            'target_id',
            'status',
            'sent_at',
            'delivered_at',
            'read_at',
            'edited_at',
            'employee_id',
            'echo_id',
          ],
          rules: ['R3'],
          triggers: ['retention', 'uninstall', 'support-deletion'],
          overdue: [{ rule: 'R3', finds: 'message metadata older than the period', where: 'sent_at < $1' }],
        },
        {
          store: 'postgres',
          table: 'chats',
          columns: ['remote_chat_id', 'portal_chat_id', 'context', 'last_message_at'],
          rules: ['R6'],
          triggers: ['retention', 'uninstall', 'support-deletion'],
          overdue: [
            { rule: 'R6', finds: 'chat mappings stale longer than the period', where: 'stale_at < $1' },
          ],
        },
        {
          store: 'postgres',
          table: 'deliveries',
          columns: ['idempotency_key'],
          rules: ['R3'],
          triggers: ['retention', 'uninstall', 'support-deletion'],
          overdue: [
            { rule: 'R3', finds: 'finished relay jobs older than the period', where: 'finished_at < $1' },
          ],
        },
        {
          store: 'postgres',
          table: 'max_updates',
          columns: ['update_key'],
          rules: ['R3'],
          triggers: ['retention', 'disconnect', 'uninstall', 'support-deletion'],
          overdue: [
            { rule: 'R3', finds: 'handled MAX updates older than the period', where: 'handled_at < $1' },
          ],
        },
        {
          store: 'postgres',
          table: 'telegram_message_chats',
          columns: ['msg_id', 'chat_id'],
          rules: ['R3'],
          triggers: ['retention', 'uninstall', 'support-deletion'],
          overdue: [
            { rule: 'R3', finds: 'message-to-chat map older than the period', where: 'seen_at < $1' },
          ],
        },
        {
          store: 'postgres',
          table: 'analytics_daily',
          columns: ['day', 'inbound', 'outbound', 'failed'],
          rules: ['R7'],
          triggers: ['retention', 'uninstall', 'support-deletion'],
          overdue: [
            {
              rule: 'R7',
              finds: 'analytics days older than the period',
              where: `day < ($1::timestamptz at time zone 'UTC')::date`,
            },
          ],
        },
      ],
    },
    I6: {
      id: 'I6',
      title: { en: 'Portal address, app tokens, connector and line settings', ru: 'Данные портала' },
      source: { en: 'app install and setup', ru: 'установка и настройка приложения' },
      locations: [
        {
          store: 'postgres',
          table: 'portals',
          columns: [
            'member_id',
            'domain',
            'server_endpoint',
            'client_endpoint',
            'application_token_enc',
            'access_token_enc',
            'refresh_token_enc',
            'token_expires_at',
            'app_client_id',
            'app_client_secret_enc',
          ],
          rules: ['R4'],
          triggers: ['uninstall', 'support-deletion'],
          overdue: [
            {
              rule: 'R4',
              finds: 'portals still held after the app was removed',
              where: `status = 'uninstalled' and updated_at < $2`,
            },
          ],
        },
        {
          store: 'postgres',
          table: 'accounts',
          // The Bitrix24 employee the account owner's own messages are shown as (a setting of the portal).
          columns: ['employee_id'],
          rules: ['R4'],
          triggers: ['uninstall', 'support-deletion'],
          overdue: [
            {
              rule: 'R4',
              finds: 'account settings still held after the app was removed',
              where: `portal_id in (select id from portals where status = 'uninstalled' and updated_at < $2)`,
            },
          ],
        },
        {
          store: 'postgres',
          table: 'lines',
          columns: ['connector_id', 'line_id', 'settings'],
          rules: ['R4'],
          triggers: ['uninstall', 'support-deletion'],
          overdue: [
            {
              rule: 'R4',
              finds: 'line settings still held after the app was removed',
              where: `portal_id in (select id from portals where status = 'uninstalled' and updated_at < $2)`,
            },
          ],
        },
      ],
    },
  },
  technical: technicalData,
  tables: tableOwners,
}
