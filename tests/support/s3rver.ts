/**
 * @module s3rver on loopback for the S3 suites: the real S3 wire protocol for the real AWS SDK, on a free
 * port, with a throwaway directory and one bucket. It does not check V4 signatures: link signing and expiry
 * are tested on the local store.
 *
 * It runs in this process under Bun as is, with one gap: a listing longer than one page fails (500), because
 * s3rver encrypts its continuation tokens with DES, which Bun's crypto lacks. `separateProcess` runs it under
 * `node --openssl-legacy-provider` instead (DES is a legacy cipher in OpenSSL 3), which pages correctly and
 * keeps the server's memory out of our RSS measurements.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** The part of s3rver 3.x used here (the package ships no types). */
interface S3rverServer {
  run(): Promise<AddressInfo>
  close(): Promise<void>
}
interface S3rverOptions {
  address: string
  port: number
  silent: boolean
  directory: string
  configureBuckets: { name: string }[]
  /** PEM texts: s3rver then serves https only. */
  cert?: string
  key?: string
}
type S3rverConstructor = new (options: S3rverOptions) => S3rverServer

export interface TestS3 {
  endpoint: string
  bucket: string
  region: string
  /** s3rver knows only this account (it checks the key id, not the signature). */
  credentials: { accessKeyId: string; secretAccessKey: string }
  stop(): Promise<void>
}

// Port 0: the kernel picks a free port, so parallel test files never collide.
const options = (directory: string, bucket: string, tls?: ServerTls): S3rverOptions => ({
  address: '127.0.0.1',
  port: 0,
  silent: process.env.S3RVER_LOG !== '1',
  directory,
  configureBuckets: [{ name: bucket }],
  ...tls,
})

/** A server certificate and key (PEM texts) for https. */
export type ServerTls = { cert: string; key: string }

async function runInProcess(
  directory: string,
  bucket: string,
  tls?: ServerTls,
): Promise<{ port: number; close(): Promise<void> }> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor
  const server = new S3rver(options(directory, bucket, tls))
  const { port } = await server.run()
  return { port, close: () => server.close() }
}

/** Starts s3rver under node; the child prints its port as its first line once it listens. */
async function runInNode(
  directory: string,
  bucket: string,
  tls?: ServerTls,
): Promise<{ port: number; close(): Promise<void> }> {
  const script =
    `const S3rver = require('s3rver');` +
    `new S3rver(${JSON.stringify(options(directory, bucket, tls))}).run()` +
    `.then((a) => console.log(a.port), (e) => { console.error(e); process.exit(1) })`
  const child: ChildProcess = spawn('node', ['--openssl-legacy-provider', '-e', script], {
    cwd: join(import.meta.dir, '..', '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const firstLine = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve)
    child.once('error', reject)
    child.once('exit', (code) =>
      reject(new Error(`s3rver under node exited with code ${code} before listening`)),
    )
  })
  const port = Number(await firstLine)
  return {
    port,
    async close() {
      child.kill('SIGTERM')
      await exited
    },
  }
}

export async function startS3rver({
  bucket = 'olchat-test',
  separateProcess = false,
  tls,
}: {
  bucket?: string
  separateProcess?: boolean
  /** Serve https with this certificate (PRIVACY S5). */
  tls?: ServerTls
} = {}): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'olchat-s3rver-'))
  const server = await (separateProcess ? runInNode : runInProcess)(directory, bucket, tls)
  return {
    endpoint: `${tls ? 'https' : 'http'}://127.0.0.1:${server.port}`,
    bucket,
    // s3rver's own continuation tokens only accept us-east-1.
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    async stop() {
      await server.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}
