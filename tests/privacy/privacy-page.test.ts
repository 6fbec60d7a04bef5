/**
 * The privacy page served at `GET /privacy`: generated from the policy and the configuration, so a changed
 * period or store shows on the page, in Russian first and in English on request.
 */
import { describe, expect, test } from 'bun:test'
import { loadConfig } from '../../src/config/load.ts'
import { createApp } from '../../src/http/app.ts'
import { createLogger } from '../../src/log/logger.ts'
import { createMetrics } from '../../src/metrics.ts'
import { privacyPolicy } from '../../src/privacy/policy.ts'
import { privacyFacts } from '../../src/privacy/privacy-page-facts.ts'
import { russianDays, russianDaysGenitive } from '../../src/privacy/privacy-page-retention.ts'
import { createPrivacyPageRoutes } from '../../src/privacy/privacy-page-routes.ts'

const base = { OLCHAT_DATA_DIR: '/tmp/olchat-privacy-page-test' }

async function page(env: Record<string, string> = {}, query = ''): Promise<Response> {
  const config = loadConfig({ ...base, ...env })
  const app = createApp({
    log: createLogger({ level: 'silent' }),
    metrics: createMetrics('test'),
    checks: [],
    isDraining: () => false,
    routes: [createPrivacyPageRoutes(privacyFacts(config))],
  })
  return app.request(`/privacy${query}`)
}

/** Visible text: tags dropped, entities of the escaper turned back. */
async function text(res: Response): Promise<string> {
  const html = await res.text()
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
}

describe('privacy page', () => {
  test('I1–I6, R1–R8: the page names every inventory class and every retention rule with its period in force', async () => {
    const res = await page()
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toStartWith('text/html')
    expect(res.headers.get('content-language')).toBe('ru')
    const body = await text(res)
    expect(body).toContain('Хранение персональных данных')
    for (const dataClass of Object.values(privacyPolicy.classes)) expect(body).toContain(dataClass.title.ru)
    for (const rule of Object.values(privacyPolicy.rules)) expect(body).toContain(rule.covers.ru)
    // The published defaults (seed page): 90 days of metadata, 30 of logs, 7 of stale data, 90 of analytics.
    expect(body).toContain('Метаданные сообщений До 90 дней')
    expect(body).toContain('Логи системы До 30 дней')
    expect(body).toContain('удаляются автоматически через 7 дней')
    expect(body).toContain('ротируются с сохранением истории за 90 дней')
    expect(body).toContain('Резервные копии До 30 дней')
  })

  test('R3, R5, R6, R7, R8, P4: changing a period in the configuration changes the page', async () => {
    const body = await text(
      await page({
        RETENTION_MESSAGES_DAYS: '45',
        RETENTION_LOGS_DAYS: '21',
        RETENTION_STALE_DAYS: '3',
        RETENTION_ANALYTICS_DAYS: '60',
        RETENTION_UNDELIVERED_DAYS: '2',
        BACKUP_RETENTION_DAYS: '14',
      }),
    )
    expect(body).toContain('Метаданные сообщений До 45 дней')
    expect(body).toContain('Логи системы До 21 дня')
    expect(body).toContain('журналы хранятся до 21 дня')
    expect(body).toContain('удаляются автоматически через 3 дня')
    expect(body).toContain('История за 60 дней')
    expect(body).toContain('недоставленные — не более 2 дней')
    expect(body).toContain('Резервные копии До 14 дней')
    expect(body).toContain('хранятся не более 14 дней')
    for (const old of ['90 дней', '30 дней', '7 дней']) expect(body).not.toContain(old)
  })

  test('the page names the stores this installation uses and how each link is protected', async () => {
    const embedded = await text(await page())
    expect(embedded).toContain('встроенная PostgreSQL (PGlite)')
    expect(embedded).toContain('Кеш — в памяти процесса Олчат')
    expect(embedded).toContain('Файлы — каталог на сервере Олчат')
    expect(embedded).toContain('действуют 15 мин')
    expect(embedded).not.toContain('Redis')

    const servers = await text(
      await page({
        DATABASE_URL: 'postgres://olchat@db.internal/olchat?sslmode=require',
        REDIS_URL: 'rediss://cache.internal:6380',
        S3_BUCKET: 'olchat-files',
        S3_ENDPOINT: 'https://storage.yandexcloud.net',
        OLCHAT_PUBLIC_URL: 'https://olchat.example.ru',
      }),
    )
    expect(servers).toContain('Базы данных — PostgreSQL; соединение шифруется TLS.')
    expect(servers).toContain(
      'Кеш — Redis (оперативные данные, не сохраняются при перезагрузке); соединение шифруется TLS с проверкой сертификата сервера.',
    )
    expect(servers).toContain('Файлы — объектное хранилище S3')
    expect(servers).toContain('Доступ к Олчат — только по HTTPS.')
    expect(servers).not.toContain('PGlite')

    const plain = await text(await page({ DATABASE_URL: 'postgres://olchat@db.internal/olchat' }))
    expect(plain).toContain('Базы данных — PostgreSQL; соединение не шифруется.')
  })

  test('the page keeps the published wording and is served in English with ?lang=en', async () => {
    const ru = await text(await page())
    for (const sentence of [
      'Олчат обрабатывает персональные данные пользователей в рамках предоставления сервиса интеграции мессенджеров с Битрикс24.',
      'Идентификатор аккаунта — внутренний идентификатор в мессенджере.',
      'Настройки коннекторов и открытых линий.',
      'Олчат не имеет доступа к сообщениям после их доставки.',
      'Федеральным законом № 152-ФЗ «О персональных данных».',
    ])
      expect(ru).toContain(sentence)

    const en = await page({}, '?lang=en')
    expect(en.headers.get('content-language')).toBe('en')
    const english = await text(en)
    expect(english).toContain('Personal data storage')
    expect(english).toContain('Message metadata 90 days')
    expect(english).not.toContain('Хранение персональных данных')

    const bad = await page({}, '?lang=de')
    expect(bad.status).toBe(400)
    expect((await bad.json()) as object).toMatchObject({ error: 'invalid_request' })
  })
})

describe('Russian day counts', () => {
  test('the page declines "день" after numbers and after "до"', () => {
    const forms = [1, 2, 5, 11, 14, 21, 22, 90, 111].map(
      (n) => `${russianDays(n)} / ${russianDaysGenitive(n)}`,
    )
    expect(forms).toEqual([
      '1 день / 1 дня',
      '2 дня / 2 дней',
      '5 дней / 5 дней',
      '11 дней / 11 дней',
      '14 дней / 14 дней',
      '21 день / 21 дня',
      '22 дня / 22 дней',
      '90 дней / 90 дней',
      '111 дней / 111 дней',
    ])
  })
})
