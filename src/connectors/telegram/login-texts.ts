/**
 * @module What a person sees at each Telegram login error, in Russian and English, with the next step it
 * leads to (reference §2.2). Kept apart from the flows so a panel and the tests can list them.
 */
import type { LocalizedText } from '../../bridge/login.ts'

export const loginTexts = {
  phonePrompt: {
    ru: 'Введите номер телефона аккаунта Telegram в международном формате, например +79991234567.',
    en: 'Enter the phone number of the Telegram account in international format, e.g. +79991234567.',
  },
  phoneInvalid: {
    ru: 'Telegram не принимает этот номер. Проверьте его и введите в международном формате, например +79991234567.',
    en: 'Telegram does not accept this number. Check it and enter it in international format, e.g. +79991234567.',
  },
  phoneBanned: {
    ru: 'Этот номер заблокирован в Telegram. Войти с ним нельзя: обратитесь в поддержку Telegram или используйте другой номер.',
    en: 'This number is banned by Telegram. It cannot log in: contact Telegram support or use another number.',
  },
  phoneUnregistered: {
    ru: 'На этот номер нет аккаунта Telegram. Зарегистрируйтесь в приложении Telegram и повторите вход.',
    en: 'There is no Telegram account for this number. Sign up in the Telegram app, then log in again.',
  },
  phoneFlood: {
    ru: 'Слишком много попыток входа с этим номером. Telegram разрешит новую попытку через несколько часов.',
    en: 'Too many login attempts with this number. Telegram will allow a new one in a few hours.',
  },
  tooManyAttempts: (minutes: number): LocalizedText => ({
    ru: `Слишком много попыток входа с этим номером. Повторите через ${minutes} мин., чтобы Telegram не заблокировал номер.`,
    en: `Too many login attempts with this number. Try again in ${minutes} min so that Telegram does not block it.`,
  }),
  codePrompt: (via: 'app' | 'sms' | 'other', resendAfter: number): LocalizedText => {
    const where = {
      app: { ru: 'в приложение Telegram на другом устройстве', en: 'to the Telegram app on another device' },
      sms: { ru: 'в SMS', en: 'by SMS' },
      other: { ru: 'на телефон', en: 'to the phone' },
    }[via]
    return {
      ru: `Введите код, который Telegram отправил ${where.ru}. Новый код можно запросить через ${resendAfter} с.`,
      en: `Enter the code Telegram sent ${where.en}. A new code can be requested after ${resendAfter} s.`,
    }
  },
  codeInvalid: {
    ru: 'Неверный код. Проверьте код и введите его ещё раз.',
    en: 'The code is wrong. Check it and enter it again.',
  },
  codeExpired: {
    ru: 'Срок действия кода истёк. Мы запросили новый код — введите его.',
    en: 'The code has expired. We have requested a new one — enter it.',
  },
  resendTooEarly: (seconds: number): LocalizedText => ({
    ru: `Новый код можно запросить через ${seconds} с.`,
    en: `A new code can be requested in ${seconds} s.`,
  }),
  passwordPrompt: (hint: string | null): LocalizedText => {
    const ru = 'Аккаунт защищён паролем двухэтапной проверки (облачным паролем). Введите его.'
    const en = 'The account has a two-step verification (cloud) password. Enter it.'
    return hint ? { ru: `${ru} Подсказка: ${hint}`, en: `${en} Hint: ${hint}` } : { ru, en }
  },
  passwordInvalid: {
    ru: 'Неверный пароль двухэтапной проверки. Попробуйте ещё раз.',
    en: 'The two-step verification password is wrong. Try again.',
  },
  authRestart: {
    ru: 'Telegram попросил начать вход заново. Введите номер телефона ещё раз.',
    en: 'Telegram asked to start the login over. Enter the phone number again.',
  },
  floodWait: (seconds: number): LocalizedText => ({
    ru: `Telegram просит подождать ${seconds} с перед следующей попыткой.`,
    en: `Telegram asks to wait ${seconds} s before the next attempt.`,
  }),
  qrPrompt: {
    ru: 'Откройте Telegram на телефоне: Настройки → Устройства → Подключить устройство, и отсканируйте QR-код.',
    en: 'Open Telegram on the phone: Settings → Devices → Link Desktop Device, and scan the QR code.',
  },
  complete: (name: string): LocalizedText => ({ ru: `Вход выполнен: ${name}.`, en: `Logged in as ${name}.` }),
} as const
