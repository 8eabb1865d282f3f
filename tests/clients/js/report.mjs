// The one result line every client script prints (read by tests/relay_clients.rs): `fail`
// prints the checks passed so far with the error and exits non-zero; `check` records a pass.
// GUARD_MS only turns a hang into a failure (the machine is shared), never a speed claim.
export const GUARD_MS = 60_000
export const results = { checks: [] }
export function fail(msg) {
  results.ok = false
  results.error = msg
  console.log(JSON.stringify(results))
  process.exit(1)
}
export function check(name, cond, detail) {
  if (!cond) fail(`${name}: ${detail ?? 'failed'}`)
  results.checks.push(name)
}
