/**
 * @module Object keys shared by both stores. The local store maps keys onto paths, so anything that could
 * climb out of its directory is refused; S3 applies the same rule so a bad key fails on every backend alike.
 */

export class InvalidKeyError extends Error {
  override name = 'InvalidKeyError'
}

const ALLOWED = /^[A-Za-z0-9._/-]+$/

function check(value: string, what: string, allowTrailingSlash: boolean): void {
  if (value.length === 0 || value.length > 1024 || !ALLOWED.test(value)) {
    throw new InvalidKeyError(`${what} must be 1-1024 characters of A-Z a-z 0-9 . _ / -`)
  }
  if (value.startsWith('/')) throw new InvalidKeyError(`${what} must not be absolute`)
  const segments = value.split('/')
  if (allowTrailingSlash && value.endsWith('/')) segments.pop()
  for (const segment of segments) {
    if (segment === '') throw new InvalidKeyError(`${what} must not have empty segments`)
    if (segment === '.' || segment === '..')
      throw new InvalidKeyError(`${what} must not have . or .. segments`)
  }
}

/** Throws InvalidKeyError unless `key` is a safe relative object key such as `p/1/a/2/f.jpg`. */
export function assertObjectKey(key: string): void {
  check(key, 'object key', false)
}

/** Like assertObjectKey, but a trailing `/` is allowed (`p/1/a/2/`), as prefixes usually end in one. */
export function assertKeyPrefix(prefix: string): void {
  check(prefix, 'key prefix', true)
}
