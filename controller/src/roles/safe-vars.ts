/**
 * Role variables are data within safe domains (issue 16): a path var must be canonical and inside
 * the place its role writes; a sysctl or kernel module must be in the allow-list the roles own
 * (shared/src/tasks/safety.ts, which the agent re-checks). Checked at render time so that a refused
 * run names the variable and says why, with BALLAST_ERR_UNSAFE_PATH or BALLAST_ERR_UNSAFE_VALUE.
 */
import { describeRules, kmodAllowed, KMOD_ALLOW_LIST, type PathRule, pathAllowed, pathProblem, sysctlProblem } from '../../../shared/src/tasks/safety.js';
import type { RoleContext } from './types.js';

type Problem = RoleContext<unknown>['problem'];

/** Records a problem unless `value` is a canonical path inside `rules`. */
/** `rules` null: any place will do (read-only checks), but the path must still be canonical. */
export function checkPathVar(problem: Problem, varPath: string, value: string, rules: readonly PathRule[] | null): void {
  const why = pathProblem(value);
  if (why !== null) {
    problem(varPath, `${JSON.stringify(value.slice(0, 128))} ${why}`, 'BALLAST_ERR_UNSAFE_PATH');
  } else if (rules !== null && !pathAllowed(value, rules)) {
    problem(varPath, `${value} is not an allowed location; allowed: ${describeRules(rules)}`, 'BALLAST_ERR_UNSAFE_PATH');
  }
}

/** Records a problem for every sysctl outside the allow-list or with a non-numeric value. */
export function checkSysctls(problem: Problem, varPath: string, sysctls: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(sysctls)) {
    const why = sysctlProblem(name, value);
    if (why !== null) problem(`${varPath}/${name}`, why, 'BALLAST_ERR_UNSAFE_VALUE');
  }
}

/** Records a problem for every kernel module outside the allow-list. */
export function checkKernelModules(problem: Problem, varPath: string, names: readonly string[]): void {
  names.forEach((name, i) => {
    if (!kmodAllowed(name)) problem(`${varPath}/${i}`, `kernel module ${name} is not in the allow-list (${KMOD_ALLOW_LIST.join(', ')})`, 'BALLAST_ERR_UNSAFE_VALUE');
  });
}
