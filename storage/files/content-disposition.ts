/** @module `Content-Disposition: attachment` with a file name any client can read (RFC 6266, RFC 5987). */

/** RFC 5987 `attr-char` is narrower than what encodeURIComponent keeps: `'()*!` must be escaped too. */
function encodeExtValue(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*!]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  )
}

/**
 * `attachment` always, so a browser never renders an uploaded file (HTML, SVG) in our origin. The ASCII
 * `filename` is a fallback for old clients; `filename*` carries the real (e.g. Russian) name. Both are pure
 * ASCII, so the value is also a valid S3 object header.
 */
export function attachmentDisposition(fileName?: string): string {
  if (!fileName) return 'attachment'
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeExtValue(fileName)}`
}
