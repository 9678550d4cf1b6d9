/**
 * How secrets are kept out of what a run or an operation shows, in one wording for the agent and
 * the controller: a secret *value* (a var, an input field, a config key) is replaced by
 * {@link REDACTED}, and the diff of a task that writes secret material is replaced whole by
 * {@link SECRET_DIFF}. The agent hides first (the diff never leaves the host); the controller hides
 * again for tasks its plan marks sensitive, so an older agent cannot leak one either.
 */

/** What a redacted secret value is shown as. */
export const REDACTED = '<redacted>';

/** What is shown instead of the diff of a task that writes secret material (keys, tokens). */
export const SECRET_DIFF = '(diff hidden: the task writes secret material)\n';

/** The diff a task that writes secrets may show: no diff stays none; any other becomes {@link SECRET_DIFF}. */
export function hideSecretDiff(diff: string): string {
  return diff === '' ? '' : SECRET_DIFF;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Replaces with {@link REDACTED} the value of every YAML line `key: value` (or list item
 * `- key: value`) whose key is one of `keys`, keeping indentation and the rest of the text, so a
 * diff of a config still shows which secret changed place without showing the secret. Keys are
 * matched whole (`token` does not match `tokenTTL`); a key with an empty value is left alone.
 */
export function redactYamlValues(text: string, keys: readonly string[]): string {
  if (keys.length === 0) return text;
  const pattern = new RegExp(`^(\\s*(?:-\\s+)?)(${keys.map(escapeRegExp).join('|')})(\\s*:\\s*)\\S.*$`, 'gm');
  return text.replace(pattern, `$1$2$3${REDACTED}`);
}
