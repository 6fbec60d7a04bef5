/**
 * @module A throwaway certificate authority for the TLS suites (PRIVACY S5), made with the `openssl` CLI: node
 * and Bun can parse certificates but not issue them. EC P-256 keys keep each step to a few milliseconds.
 * Everything lives in one temp directory that `remove()` deletes.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface IssuedCertificate {
  certFile: string
  keyFile: string
  cert: string
}

export interface TestCa {
  dir: string
  /** The CA certificate (PEM file and its text): what a client is told to trust. */
  certFile: string
  cert: string
  /** A server certificate signed by this CA, valid for the given names (`IP:127.0.0.1`, `DNS:localhost`). */
  issue(name: string, altNames: string[]): IssuedCertificate
  remove(): void
}

/** Why TLS suites cannot run here, or undefined when `openssl` is at hand. */
export function opensslMissing(): string | undefined {
  const probe = Bun.spawnSync(['openssl', 'version'], { stdout: 'pipe', stderr: 'pipe' })
  return probe.exitCode === 0
    ? undefined
    : 'the openssl CLI is not installed (needed to issue test certificates)'
}

function openssl(args: string[]): void {
  const run = Bun.spawnSync(['openssl', ...args], { stdout: 'pipe', stderr: 'pipe' })
  if (run.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${run.stderr.toString()}`)
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']

export function createTestCa(label = 'Olchat test CA'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'olchat-ca-'))
  const certFile = join(dir, 'ca.pem')
  const caKey = join(dir, 'ca.key')
  openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    caKey,
    '-out',
    certFile,
    '-days',
    '1',
    '-subj',
    `/CN=${label}`,
  ])
  return {
    dir,
    certFile,
    cert: readFileSync(certFile, 'utf8'),
    issue(name, altNames) {
      const base = join(dir, name.replace(/[^A-Za-z0-9.-]/g, '_'))
      if (existsSync(`${base}.pem`)) throw new Error(`certificate ${name} was already issued`)
      const extensions = `${base}.ext`
      writeFileSync(
        extensions,
        `subjectAltName=${altNames.join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
      )
      openssl(['req', ...EC_KEY, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`])
      openssl(
        ['x509', '-req', '-in', `${base}.csr`, '-CA', certFile, '-CAkey', caKey, '-CAcreateserial'].concat([
          '-out',
          `${base}.pem`,
          '-days',
          '1',
          '-extfile',
          extensions,
        ]),
      )
      return { certFile: `${base}.pem`, keyFile: `${base}.key`, cert: readFileSync(`${base}.pem`, 'utf8') }
    },
    remove() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
