/**
 * @module The encrypted backup file (PRIVACY P4): a streamed AES-256-GCM envelope under the key ring.
 *
 * A fresh 32-byte data key per backup is sealed by the ring (`KeyRing.seal`, so the file records which
 * master key wrapped it and rotation works as for every other secret). The dump is cut into chunks of at
 * most 1 MiB, each sealed with the data key, a nonce of (random prefix, chunk number) and associated data
 * binding it to the header (its sha256), its position and whether it is the last one — so a changed
 * header, a changed, swapped, dropped or appended chunk, or a cut-off end all fail to open.
 *
 * Layout: `OLCHATBK` · version 1 · header length (u32) · header JSON · frames of (length u32 · ciphertext ·
 * tag 16). Nothing here keeps the whole dump in memory.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { type FileHandle, open } from 'node:fs/promises'
import * as v from 'valibot'
import type { SecretBox } from '../crypto/secret-box.ts'

const MAGIC = Buffer.from('OLCHATBK')
const VERSION = 1
const TAG = 16
export const CHUNK_BYTES = 1024 * 1024
/** Context the data key is sealed under (bound as associated data by the key ring). */
const KEY_CONTEXT = 'olchat.backup.data_key'

export interface BackupHeader {
  /** What made the dump and what restores it. */
  kind: 'postgres' | 'embedded'
  createdAt: string
  /** Highest applied migration of the dumped database. */
  schemaVersion: number
  /** Tool that made the dump (`pg_dump (PostgreSQL) 15.x`, `pglite 0.5.14 dumpDataDir`). */
  tool: string
}

const Base64 = v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]+={0,2}$/), v.maxLength(1024))

/** The header as read from a file: checked field by field (the file is input like any other). */
const SealedHeaderSchema = v.object({
  format: v.literal('olchat-backup/1'),
  kind: v.picklist(['postgres', 'embedded']),
  createdAt: v.pipe(v.string(), v.isoTimestamp()),
  schemaVersion: v.pipe(v.number(), v.integer(), v.minValue(0)),
  tool: v.pipe(v.string(), v.maxLength(200)),
  wrappedKey: Base64,
  noncePrefix: v.pipe(Base64, v.length(12, 'the nonce prefix must be 8 bytes')),
})

type SealedHeader = v.InferOutput<typeof SealedHeaderSchema>

/** The file is not a backup, was changed, is incomplete, or its key is not in the ring. Nothing restored. */
export class BackupIntegrityError extends Error {
  override name = 'BackupIntegrityError'
}

function chunkAad(headerHash: Buffer, index: number, last: boolean): Buffer {
  const aad = Buffer.alloc(headerHash.length + 9)
  headerHash.copy(aad)
  aad.writeBigUInt64BE(BigInt(index), headerHash.length)
  aad[headerHash.length + 8] = last ? 1 : 0
  return aad
}

function nonce(prefix: Buffer, index: number): Buffer {
  const iv = Buffer.alloc(12)
  prefix.copy(iv)
  iv.writeUInt32BE(index, 8)
  return iv
}

/** Re-cuts a byte stream into pieces of exactly `size` bytes (the last may be shorter). */
async function* rechunk(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size: number,
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  for await (const piece of source) {
    pending.push(Buffer.from(piece))
    pendingBytes += piece.byteLength
    while (pendingBytes >= size) {
      const all = Buffer.concat(pending)
      yield all.subarray(0, size)
      pending = [all.subarray(size)]
      pendingBytes = all.length - size
    }
  }
  yield Buffer.concat(pending)
}

/**
 * Seals `source` into `path` (created with mode 0600, must not exist).
 * @returns the plain and the written size in bytes.
 */
export async function writeEncrypted(
  path: string,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  keys: SecretBox,
  header: BackupHeader,
): Promise<{ plainBytes: number; fileBytes: number }> {
  const dataKey = randomBytes(32)
  const sealed: SealedHeader = {
    format: 'olchat-backup/1',
    ...header,
    wrappedKey: keys.seal(dataKey, KEY_CONTEXT).toString('base64'),
    noncePrefix: randomBytes(8).toString('base64'),
  }
  const headerBytes = Buffer.from(JSON.stringify(sealed))
  const headerHash = createHash('sha256').update(headerBytes).digest()
  const prefix = Buffer.from(sealed.noncePrefix, 'base64')
  const file = await open(path, 'wx', 0o600)
  let plainBytes = 0
  let fileBytes = 0
  const write = async (bytes: Buffer) => {
    await file.write(bytes)
    fileBytes += bytes.length
  }
  try {
    const lead = Buffer.alloc(MAGIC.length + 5)
    MAGIC.copy(lead)
    lead[MAGIC.length] = VERSION
    lead.writeUInt32BE(headerBytes.length, MAGIC.length + 1)
    await write(Buffer.concat([lead, headerBytes]))
    // One chunk of look-ahead tells whether the current one is the last.
    let index = 0
    let current: Buffer | undefined
    const seal = async (chunk: Buffer, last: boolean) => {
      const cipher = createCipheriv('aes-256-gcm', dataKey, nonce(prefix, index))
      cipher.setAAD(chunkAad(headerHash, index, last))
      const body = Buffer.concat([cipher.update(chunk), cipher.final(), cipher.getAuthTag()])
      const length = Buffer.alloc(4)
      length.writeUInt32BE(body.length)
      await write(Buffer.concat([length, body]))
      plainBytes += chunk.length
      index++
    }
    for await (const chunk of rechunk(source, CHUNK_BYTES)) {
      if (current !== undefined) await seal(current, false)
      current = chunk
    }
    await seal(current ?? Buffer.alloc(0), true)
    await file.sync()
  } finally {
    dataKey.fill(0)
    await file.close()
  }
  return { plainBytes, fileBytes }
}

async function readExactly(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length)
  const { bytesRead } = await file.read(buffer, 0, length, position)
  if (bytesRead !== length) throw new BackupIntegrityError('the backup is cut off')
  return buffer
}

/** Reads and checks the header (not the chunks). @throws BackupIntegrityError */
export async function readHeader(path: string): Promise<BackupHeader> {
  const file = await open(path, 'r')
  try {
    return publicHeader((await openHeader(file)).header)
  } finally {
    await file.close()
  }
}

function publicHeader(header: SealedHeader): BackupHeader {
  return {
    kind: header.kind,
    createdAt: header.createdAt,
    schemaVersion: header.schemaVersion,
    tool: header.tool,
  }
}

async function openHeader(
  file: FileHandle,
): Promise<{ header: SealedHeader; headerHash: Buffer; at: number }> {
  const lead = await readExactly(file, 0, MAGIC.length + 5).catch(() => {
    throw new BackupIntegrityError('not an Olchat backup')
  })
  if (!lead.subarray(0, MAGIC.length).equals(MAGIC) || lead[MAGIC.length] !== VERSION)
    throw new BackupIntegrityError('not an Olchat backup (or a newer format)')
  const length = lead.readUInt32BE(MAGIC.length + 1)
  if (length > 64 * 1024) throw new BackupIntegrityError('the backup header is damaged')
  const headerBytes = await readExactly(file, lead.length, length)
  let parsed: unknown
  try {
    parsed = JSON.parse(headerBytes.toString('utf8'))
  } catch {
    throw new BackupIntegrityError('the backup header is damaged')
  }
  const checked = v.safeParse(SealedHeaderSchema, parsed)
  if (!checked.success) throw new BackupIntegrityError('the backup header is damaged')
  const header = checked.output
  return { header, headerHash: createHash('sha256').update(headerBytes).digest(), at: lead.length + length }
}

/**
 * The plain dump of `path`, chunk by chunk, each checked before it is handed out; the last check (the
 * end is really the end) comes after the last chunk, so consumers that must not act on a partial dump
 * read it twice: `verifyEncrypted` first, then this.
 * @throws BackupIntegrityError
 */
export async function* readEncrypted(
  path: string,
  keys: SecretBox,
): AsyncGenerator<Buffer, BackupHeader, undefined> {
  const file = await open(path, 'r')
  try {
    const { header, headerHash, at } = await openHeader(file)
    let dataKey: Buffer
    try {
      dataKey = keys.open(Buffer.from(header.wrappedKey, 'base64'), KEY_CONTEXT)
    } catch (error) {
      throw new BackupIntegrityError(
        `the backup key cannot be opened (${(error as Error).message}): restore with the key ring the ` +
          'backup was made under (OLCHAT_ENCRYPTION_KEYS, or the data directory’s encryption-keys file)',
      )
    }
    const prefix = Buffer.from(header.noncePrefix, 'base64')
    const { size } = await file.stat()
    let position = at
    for (let index = 0; ; index++) {
      const length = (await readExactly(file, position, 4)).readUInt32BE(0)
      if (length < TAG || length > CHUNK_BYTES + TAG)
        throw new BackupIntegrityError('a backup chunk is damaged')
      const frame = await readExactly(file, position + 4, length)
      position += 4 + length
      const last = position === size
      const decipher = createDecipheriv('aes-256-gcm', dataKey, nonce(prefix, index))
      decipher.setAAD(chunkAad(headerHash, index, last))
      decipher.setAuthTag(frame.subarray(length - TAG))
      let plain: Buffer
      try {
        plain = Buffer.concat([decipher.update(frame.subarray(0, length - TAG)), decipher.final()])
      } catch {
        throw new BackupIntegrityError(
          last ? 'the backup was changed or is incomplete' : `backup chunk ${index} was changed`,
        )
      }
      if (plain.length > 0) yield plain
      if (last) return publicHeader(header)
    }
  } finally {
    await file.close()
  }
}

/** Reads the whole backup once, checking every chunk and its end. @throws BackupIntegrityError */
export async function verifyEncrypted(path: string, keys: SecretBox): Promise<BackupHeader> {
  const reader = readEncrypted(path, keys)
  for (;;) {
    const next = await reader.next()
    if (next.done) return next.value
  }
}
