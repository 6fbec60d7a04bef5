/**
 * @module The retention rules R1–R8 of PRIVACY.md as data: what each covers, how long, what happens then,
 * and the default period where the rule has one (in English and Russian, for the generated privacy page).
 */
import type { RetentionRule, RuleId } from './policy-types.ts'

export const retentionRules: Record<RuleId, RetentionRule> = {
  R1: {
    id: 'R1',
    covers: { en: 'Messenger auth sessions', ru: 'Сессии авторизации мессенджеров' },
    kept: {
      en: 'until the account is disconnected or the app is removed',
      ru: 'До отключения аккаунта или удаления приложения',
    },
    afterwards: {
      en: 'deleted (logged out remotely where possible)',
      ru: 'удаляются (с выходом из мессенджера)',
    },
    defaultDays: null,
  },
  R2: {
    id: 'R2',
    covers: { en: 'Contact cache (names, ids, avatars, phones)', ru: 'Кеш контактов' },
    kept: { en: 'refreshed automatically while connected', ru: 'Автоматическое обновление' },
    afterwards: { en: 'cleared when the account is disconnected', ru: 'очистка при отключении аккаунта' },
    defaultDays: null,
  },
  R3: {
    id: 'R3',
    covers: { en: 'Message metadata', ru: 'Метаданные сообщений' },
    kept: { en: '90 days', ru: 'До 90 дней' },
    afterwards: {
      en: 'deleted (used for analytics only)',
      ru: 'удаляются (используются только для аналитики)',
    },
    defaultDays: 90,
  },
  R4: {
    id: 'R4',
    covers: { en: 'Connector and Open Line settings', ru: 'Настройки коннекторов' },
    kept: { en: 'until the app is removed from the portal', ru: 'До удаления приложения с портала' },
    afterwards: { en: 'deleted', ru: 'удаляются' },
    defaultDays: null,
  },
  R5: {
    id: 'R5',
    covers: { en: 'System logs, stored event and audit logs', ru: 'Логи системы' },
    kept: { en: '30 days', ru: 'До 30 дней' },
    afterwards: {
      en: 'deleted; the audit hash chain keeps an anchor so it still verifies',
      ru: 'удаляются; цепочка журнала аудита сохраняет якорь для проверки',
    },
    defaultDays: 30,
  },
  R6: {
    id: 'R6',
    covers: { en: 'Stale data (unseen contacts, unbound chats, orphaned files)', ru: 'Устаревшие данные' },
    kept: { en: 'marked stale', ru: 'Помечаются как устаревшие' },
    afterwards: { en: 'deleted 7 days after marking', ru: 'удаляются автоматически через 7 дней' },
    defaultDays: 7,
  },
  R7: {
    id: 'R7',
    covers: { en: 'Analytics', ru: 'Аналитические данные' },
    kept: { en: 'rolling 90-day history', ru: 'История за 90 дней' },
    afterwards: { en: 'older aggregates rotated out', ru: 'более старые агрегаты удаляются' },
    defaultDays: 90,
  },
  R8: {
    id: 'R8',
    covers: { en: 'Message bodies and files', ru: 'Тексты сообщений и файлы' },
    kept: {
      en: 'only until delivered; an undeliverable one at most 7 days',
      ru: 'Только до доставки; недоставленные — не более 7 дней',
    },
    afterwards: { en: 'dropped, only metadata kept', ru: 'удаляются, остаются только метаданные' },
    defaultDays: 7,
  },
}
