/**
 * Host labels (issue 12: `autoReplace.sparePool`): a small set of key=value pairs per enrolled host,
 * validated as Kubernetes validates object labels, so a selector means the same thing here and there.
 *
 * - key: an optional prefix (a DNS subdomain, ≤ 253 characters) and `/`, then a name of 1–63
 *   characters: alphanumerics, `-`, `_`, `.`, beginning and ending with an alphanumeric;
 * - value: empty, or 1–63 characters of the same alphabet and shape;
 * - at most {@link MAX_HOST_LABELS} labels a host, so a host row and a list page stay bounded.
 *
 * Pure functions shared by the controller (the authority) and ballastctl (early, friendlier errors).
 */
import { BallastError } from './errors.js';

/** The most labels one host may carry. */
export const MAX_HOST_LABELS = 32;

/** A host's labels: key → value. */
export type HostLabels = Record<string, string>;

const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Why `key` is not a valid label key, or null when it is. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.indexOf('/');
  const prefix = slash < 0 ? null : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== null && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key "${key}": the prefix before "/" must be a DNS subdomain (lower-case a-z, 0-9, "-" and ".", at most 253 characters)`;
  }
  if (!NAME.test(name)) {
    return `label key "${key}": the name must be 1-63 characters of a-z, A-Z, 0-9, "-", "_" and ".", beginning and ending with a letter or digit`;
  }
  return null;
}

/** Why `value` is not a valid label value, or null when it is. */
export function labelValueProblem(key: string, value: string): string | null {
  if (value === '' || NAME.test(value)) return null;
  return `label ${key}="${value}": the value must be empty or 1-63 characters of a-z, A-Z, 0-9, "-", "_" and ".", beginning and ending with a letter or digit`;
}

/** Throws BALLAST_ERR_LABEL_INVALID naming the first bad key or value, or the count over the limit. */
export function assertValidLabels(labels: HostLabels, what: string): void {
  for (const [key, value] of Object.entries(labels)) {
    const problem = labelKeyProblem(key) ?? labelValueProblem(key, value);
    if (problem !== null) throw new BallastError('BALLAST_ERR_LABEL_INVALID', `failed to ${what}: ${problem}`);
  }
  const count = Object.keys(labels).length;
  if (count > MAX_HOST_LABELS) {
    throw new BallastError('BALLAST_ERR_LABEL_INVALID', `failed to ${what}: ${count} labels, over the limit of ${MAX_HOST_LABELS} a host`);
  }
}

/** A parsed equality selector `key=value` (the one form `autoReplace.sparePool` takes). */
export interface LabelSelector {
  key: string;
  value: string;
}

/** Parses `key=value` into a selector; null when it is not one valid key and value. */
export function parseLabelSelector(text: string): LabelSelector | null {
  const eq = text.indexOf('=');
  if (eq < 0) return null;
  const key = text.slice(0, eq);
  const value = text.slice(eq + 1);
  return labelKeyProblem(key) === null && labelValueProblem(key, value) === null ? { key, value } : null;
}

/** True when `labels` match `selector`. */
export function matchesSelector(labels: HostLabels, selector: LabelSelector): boolean {
  return Object.hasOwn(labels, selector.key) && labels[selector.key] === selector.value;
}

/** A change to a host's labels, as `ballastctl host label` sends it (kubectl label's rules). */
export interface LabelChange {
  /** Labels to add or change. */
  set: HostLabels;
  /** Keys to remove (`key-`); removing a key the host lacks is not an error, as in kubectl. */
  remove: string[];
  /** Without it, changing an existing label's value is refused (BALLAST_ERR_LABEL_EXISTS). */
  overwrite: boolean;
}

/**
 * The labels after `change`, validated. Throws BALLAST_ERR_LABEL_INVALID (a bad key or value, a key
 * both set and removed, too many labels) or BALLAST_ERR_LABEL_EXISTS (a value changed without overwrite).
 */
export function applyLabelChange(current: HostLabels, change: LabelChange, host: string): HostLabels {
  const what = `label host ${host}`;
  for (const key of change.remove) {
    const problem = labelKeyProblem(key);
    if (problem !== null) throw new BallastError('BALLAST_ERR_LABEL_INVALID', `failed to ${what}: ${problem}`);
    if (Object.hasOwn(change.set, key)) throw new BallastError('BALLAST_ERR_LABEL_INVALID', `failed to ${what}: label ${key} is both set and removed`);
  }
  // Checked before any assignment: a key like `__proto__` must be refused, not silently swallowed.
  assertValidLabels(change.set, what);
  const next: HostLabels = { ...current };
  for (const [key, value] of Object.entries(change.set)) {
    const old = Object.hasOwn(current, key) ? current[key] : undefined;
    if (old !== undefined && old !== value && !change.overwrite) {
      throw new BallastError('BALLAST_ERR_LABEL_EXISTS', `failed to ${what}: it already has ${key}=${old}; pass --overwrite to change it to ${key}=${value}`);
    }
    next[key] = value;
  }
  for (const key of change.remove) delete next[key];
  assertValidLabels(next, what);
  // Sorted keys: stable output and a stable stored form.
  return Object.fromEntries(Object.entries(next).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
