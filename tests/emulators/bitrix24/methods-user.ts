/**
 * @module Who is the current user: `user.current` and `profile`. The reference (§2.2) only says that a page's
 * `AUTH_ID` carries the opening user's rights; these two follow the official REST docs (b24restdocs):
 * - `profile` — scope `basic` (every app has it), any user: `ID`, `ADMIN`, `NAME`, `LAST_NAME`,
 *   `PERSONAL_GENDER`, `TIME_ZONE` [D:api-reference/common/users/profile.md];
 * - `user.current` — scope `user`, `user_brief` or `user_basic`, any user: the user's fields, which depend on
 *   the scope (`user_brief` has no contact data) [D:api-reference/user/user-current.md],
 *   [D:api-reference/user/index.md]. Without one of those scopes: 403 `insufficient_scope` (§4.4).
 * `user.admin` lives in `methods-app.ts`. Values the emulator does not model (e-mail, phones, photo) are empty.
 */
import type { CallContext, MethodTable } from './call.ts'
import { RestError } from './errors.ts'
import type { UserRecord } from './types.ts'

const USER_SCOPES = ['user', 'user_brief', 'user_basic']

function currentUser(ctx: CallContext): UserRecord {
  const user = ctx.portal.users.get(ctx.userId)
  // A token always names a user of its portal; a deleted user cannot authenticate.
  if (!user) throw new RestError('NO_AUTH_FOUND', 'Wrong authorization data', 401)
  return user
}

/** Scopes granted to the call: an app's, or every scope for an incoming webhook (§4.1). */
function granted(ctx: CallContext): string[] {
  if (ctx.clientId === null) return USER_SCOPES
  return ctx.emu
    .app(ctx.clientId)
    .scope.split(',')
    .map((s) => s.trim())
}

function profile(ctx: CallContext): unknown {
  const user = currentUser(ctx)
  return {
    ID: String(user.id),
    ADMIN: user.admin,
    NAME: user.name,
    LAST_NAME: user.lastName,
    PERSONAL_GENDER: '',
    TIME_ZONE: '',
  }
}

function userCurrent(ctx: CallContext): unknown {
  const user = currentUser(ctx)
  const scopes = granted(ctx)
  // [D:api-reference/user/index.md]: the brief field set, plus contact fields with `user_basic` or `user`.
  const fields: Record<string, unknown> = {
    ID: String(user.id),
    XML_ID: '',
    ACTIVE: true,
    NAME: user.name,
    LAST_NAME: user.lastName,
    SECOND_NAME: '',
    TITLE: '',
    IS_ONLINE: 'N',
    TIME_ZONE: '',
    PERSONAL_PHOTO: '',
    PERSONAL_GENDER: '',
    PERSONAL_BIRTHDAY: '',
    WORK_POSITION: '',
    UF_EMPLOYMENT_DATE: '',
    UF_DEPARTMENT: [1],
  }
  if (scopes.includes('user') || scopes.includes('user_basic')) {
    Object.assign(fields, { EMAIL: '', PERSONAL_PHONE: '', PERSONAL_MOBILE: '', WORK_PHONE: '' })
  }
  return fields
}

export const userMethods: MethodTable = {
  profile: { fn: profile },
  'user.current': { fn: userCurrent, scope: USER_SCOPES },
}
