/**
 * @module Wording of the privacy page "Хранение персональных данных" (after the product's published text,
 * `seed/personal-data.ru.txt`), in Russian and English. Numbers and store kinds are never written here:
 * they come in as arguments from the policy and the configuration (`privacy-page-facts.ts`).
 */

import type { ClassId, Text } from './policy-types.ts'
import type { LinkProtection, PrivacyFacts } from './privacy-page-facts.ts'
import { russianDays, russianDaysGenitive } from './privacy-page-retention.ts'
import type { RetentionPeriods } from './retention-periods.ts'

const enDays = (n: number) => (n === 1 ? '1 day' : `${n} days`)

/** What each inventory class consists of; the record type makes a new class need its description. */
export function classItems(periods: RetentionPeriods): Record<ClassId, { lead: Text; items: Text[] }> {
  const r8 = { ru: russianDaysGenitive(periods.R8), en: enDays(periods.R8) }
  const r8After = russianDays(periods.R8)
  return {
    I1: {
      lead: {
        ru: 'При подключении аккаунта мессенджера к Олчат обрабатываются:',
        en: 'When a messenger account is connected to Olchat, Olchat processes:',
      },
      items: [
        {
          ru: 'Идентификатор аккаунта — внутренний идентификатор в мессенджере.',
          en: "Account id — the messenger's internal identifier.",
        },
        {
          ru: 'Имя и фамилия — публичное имя профиля в мессенджере.',
          en: 'First and last name — the public profile name.',
        },
        {
          ru: 'Номер телефона — привязанный к аккаунту (для Telegram), хранится в зашифрованном виде.',
          en: "Phone number — the account's number (Telegram), stored encrypted.",
        },
        {
          ru: 'Имя пользователя (username) — публичный username в мессенджере.',
          en: 'Username — the public username.',
        },
        { ru: 'Фото профиля — аватар аккаунта.', en: "Profile photo — the account's avatar." },
        {
          ru: 'Сессия входа в мессенджер — хранится в зашифрованном виде.',
          en: 'The messenger login session — stored encrypted.',
        },
      ],
    },
    I2: {
      lead: { ru: 'При синхронизации контактов обрабатываются:', en: 'Contact sync processes:' },
      items: [
        { ru: 'Имена контактов.', en: 'Contact names.' },
        { ru: 'Идентификаторы контактов в мессенджере.', en: 'Contact ids in the messenger.' },
        {
          ru: 'Аватары контактов (кешируются для отображения).',
          en: 'Contact avatars (cached for display).',
        },
        {
          ru: 'Номера телефонов (при наличии), в зашифрованном виде.',
          en: 'Phone numbers (when known), stored encrypted.',
        },
      ],
    },
    I3: {
      lead: {
        ru: 'Олчат передаёт сообщения между мессенджерами и Битрикс24:',
        en: 'Olchat relays messages between messengers and Bitrix24:',
      },
      items: [
        {
          ru: `Текстовые сообщения передаются в Битрикс24 и хранятся на стороне портала Битрикс24; Олчат держит текст в зашифрованном виде только до доставки (недоставленный — не более ${r8.ru}).`,
          en: `Text messages are passed to Bitrix24 and stored on the Bitrix24 portal; Olchat keeps a text, encrypted, only until it is delivered (an undeliverable one at most ${r8.en}).`,
        },
      ],
    },
    I4: {
      lead: { ru: 'Файлы:', en: 'Files:' },
      items: [
        {
          ru: `Файлы (изображения, документы, аудио, видео) передаются в Битрикс24 через файловое хранилище и удаляются после передачи (не позднее чем через ${r8After}).`,
          en: `Files (images, documents, audio, video) pass to Bitrix24 through file storage and are deleted after the transfer (at the latest after ${r8.en}).`,
        },
      ],
    },
    I5: {
      lead: { ru: 'Для корректной работы обрабатываются:', en: 'For correct operation Olchat processes:' },
      items: [
        {
          ru: 'Метаданные сообщений: время отправки, статус доставки и идентификаторы, связывающие сообщение в мессенджере и в Битрикс24.',
          en: 'Message metadata: send time, delivery status and the ids that map a message between the messenger and Bitrix24.',
        },
        { ru: 'Суточные счётчики сообщений (аналитика).', en: 'Daily message counts (analytics).' },
      ],
    },
    I6: {
      lead: { ru: 'Для функционирования приложения сохраняются:', en: 'For the app to work, Olchat stores:' },
      items: [
        { ru: 'Адрес портала Битрикс24.', en: 'The Bitrix24 portal address.' },
        {
          ru: 'Токены авторизации приложения (для API-вызовов), в зашифрованном виде.',
          en: 'Application auth tokens (for API calls), encrypted.',
        },
        { ru: 'Настройки коннекторов и открытых линий.', en: 'Connector and Open Line settings.' },
      ],
    },
  }
}

const LINK: Record<LinkProtection, Text> = {
  none: { ru: 'соединение не шифруется', en: 'the connection is not encrypted' },
  opportunistic: {
    ru: 'соединение шифруется TLS, если сервер его поддерживает',
    en: 'the connection uses TLS when the server offers it',
  },
  tls: { ru: 'соединение шифруется TLS', en: 'the connection is encrypted with TLS' },
  verified: {
    ru: 'соединение шифруется TLS с проверкой сертификата сервера',
    en: "the connection is encrypted with TLS and the server's certificate is checked",
  },
}

/** Where the data lives, as configured. */
export function storageItems(facts: PrivacyFacts): Text[] {
  const { database, cache, files, periods } = facts
  const r8 = { ru: russianDaysGenitive(periods.R8), en: enDays(periods.R8) }
  return [
    database.kind === 'postgres'
      ? {
          ru: `Базы данных — PostgreSQL; ${LINK[database.link].ru}.`,
          en: `Database — PostgreSQL; ${LINK[database.link].en}.`,
        }
      : {
          ru: 'Базы данных — встроенная PostgreSQL (PGlite) в каталоге данных на сервере Олчат.',
          en: "Database — embedded PostgreSQL (PGlite) in the data directory on Olchat's server.",
        },
    cache.kind === 'redis'
      ? {
          ru: `Кеш — Redis (оперативные данные, не сохраняются при перезагрузке); ${LINK[cache.link].ru}.`,
          en: `Cache — Redis (operational data, not kept across restarts); ${LINK[cache.link].en}.`,
        }
      : {
          ru: 'Кеш — в памяти процесса Олчат (оперативные данные, не сохраняются при перезапуске).',
          en: "Cache — in Olchat's process memory (operational data, lost on restart).",
        },
    files.kind === 's3'
      ? {
          ru: `Файлы — объектное хранилище S3 (временное хранение для передачи, не более ${r8.ru}); ${LINK[files.link].ru}.`,
          en: `Files — S3 object storage (temporary, for the transfer, at most ${r8.en}); ${LINK[files.link].en}.`,
        }
      : {
          ru: `Файлы — каталог на сервере Олчат (временное хранение для передачи, не более ${r8.ru}); ссылки на скачивание подписаны и действуют ${files.linkMinutes} мин.`,
          en: `Files — a directory on Olchat's server (temporary, for the transfer, at most ${r8.en}); download links are signed and expire after ${files.linkMinutes} min.`,
        },
  ]
}

/** The protection measures, with what this installation actually does. */
export function protectionItems(facts: PrivacyFacts): Text[] {
  const logs = { ru: russianDaysGenitive(facts.periods.R5), en: enDays(facts.periods.R5) }
  const backups = { ru: russianDaysGenitive(facts.backupDays), en: enDays(facts.backupDays) }
  return [
    {
      ru: 'Шифрование хранения — сессии мессенджеров, токены Битрикс24 и MAX и номера телефонов шифруются самим приложением (AES-256-GCM), в дополнение к шифрованию дисков.',
      en: 'Encryption at rest — messenger sessions, Bitrix24 and MAX tokens and phone numbers are encrypted by the application itself (AES-256-GCM), on top of disk encryption.',
    },
    facts.https
      ? { ru: 'Доступ к Олчат — только по HTTPS.', en: 'Olchat is reached over HTTPS only.' }
      : {
          ru: 'Шифрование при передаче — каждое соединение между компонентами может быть защищено TLS (см. раздел о хранении).',
          en: 'Encryption in transit — every link between components can use TLS (see the storage section).',
        },
    {
      ru: 'Контроль доступа — доступ к данным ограничен по ролям и правам.',
      en: 'Access control — access to data is limited by roles and permissions.',
    },
    {
      ru: `Аудит — действия в системе фиксируются в журнале с защитой от изменений; журналы хранятся до ${logs.ru}.`,
      en: `Audit — actions are recorded in a tamper-evident log; logs are kept up to ${logs.en}.`,
    },
    {
      ru: 'Регулярное обновление программного обеспечения: версии зависимостей зафиксированы и проверяются на известные уязвимости.',
      en: 'Software is kept up to date: dependency versions are locked and checked for known vulnerabilities.',
    },
    {
      ru: `Резервное копирование — копии базы данных шифруются и хранятся не более ${backups.ru}, после чего удаляются: удалённые данные не остаются в копиях дольше этого срока.`,
      en: `Backups — database backups are encrypted and kept at most ${backups.en}, then deleted: deleted data does not outlive them longer than that.`,
    },
  ]
}
