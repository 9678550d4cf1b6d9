/**
 * Orders strings by UTF-16 code unit, like `Array.prototype.sort()` without a comparator. Used
 * instead of `localeCompare` for machine names (interfaces, mount points): those need a stable
 * order, not a linguistic one, and `localeCompare` loads an ICU collator — about 2.5 MB of
 * resident ICU data and tables in the agent process (measured on node 22 with --lite-mode, issue
 * 15). test/unit/agent-lite-mode.test.ts keeps ICU-backed calls out of the agent.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
