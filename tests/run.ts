/**
 * `npm test`: runs `bun test` (extra arguments pass through) and closes with one `N passed, N failed` line,
 * the summary CI reads. The exit code is bun's.
 */
const child = Bun.spawn([process.execPath, 'test', '--timeout', '30000', ...process.argv.slice(2)], {
  stdout: 'inherit',
  stderr: 'pipe',
  stdin: 'ignore',
  env: process.env,
})
let summary = ''
const decoder = new TextDecoder()
for await (const chunk of child.stderr) {
  const text = decoder.decode(chunk, { stream: true })
  summary = (summary + text).slice(-4000)
  process.stderr.write(text)
}
const code = await child.exited
const count = (word: string) => Number(new RegExp(`^\\s*(\\d+) ${word}$`, 'm').exec(summary)?.[1] ?? 0)
const backends = process.env.OLCHAT_TEST_BACKENDS ?? 'real'
console.log(`\n${backends}: ${count('pass')} passed, ${count('fail')} failed`)
process.exit(code)

export {}
