/**
 * @module Validators for the PEM files the TLS variables name (PRIVACY S1, S5). A file is checked when the
 * configuration loads — it exists, is readable and parses — so a typo stops Olchat at start with the variable's
 * name, not at the first handshake minutes later.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import * as v from 'valibot'

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

function readText(path: string): { text: string } | { problem: string } {
  try {
    return { text: readFileSync(path, 'utf8') }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { problem: `file not found: ${path}` }
    if (code === 'EACCES') return { problem: `file not readable: ${path}` }
    if (code === 'EISDIR') return { problem: `is a directory, not a file: ${path}` }
    return { problem: `cannot read ${path} (${code ?? 'error'})` }
  }
}

/** Every certificate in a PEM bundle, parsed; throws on a block that does not parse. */
export function parseCertificates(text: string): X509Certificate[] {
  return (text.match(PEM_CERTIFICATE) ?? []).map((block) => new X509Certificate(block))
}

function certificatesProblem(path: string): string | undefined {
  const read = readText(path)
  if ('problem' in read) return read.problem
  try {
    if (parseCertificates(read.text).length === 0) return `no PEM certificate in ${path}`
  } catch {
    return `a certificate in ${path} does not parse`
  }
  return undefined
}

function privateKeyProblem(path: string): string | undefined {
  const read = readText(path)
  if ('problem' in read) return read.problem
  try {
    createPrivateKey(read.text)
  } catch {
    return `no unencrypted PEM private key in ${path}`
  }
  return undefined
}

const fileChecked = (problemOf: (path: string) => string | undefined) =>
  v.pipe(
    v.string(),
    v.minLength(1, 'must not be empty'),
    v.rawCheck<string>(({ dataset, addIssue }) => {
      if (!dataset.typed) return
      const problem = problemOf(dataset.value)
      if (problem) addIssue({ message: problem })
    }),
  )

/** A PEM file with one or more certificates (a CA bundle, or a server certificate and its chain). */
export const certificatesFile = fileChecked(certificatesProblem)

/** A PEM file with an unencrypted private key (Olchat has no way to ask for a passphrase). */
export const privateKeyFile = fileChecked(privateKeyProblem)

/** Whether the key belongs to the first (leaf) certificate of the file; both files already validated. */
export function keyMatchesCertificate(certFile: string, keyFile: string): boolean {
  const [leaf] = parseCertificates(readFileSync(certFile, 'utf8'))
  return leaf?.checkPrivateKey(createPrivateKey(readFileSync(keyFile, 'utf8'))) === true
}
