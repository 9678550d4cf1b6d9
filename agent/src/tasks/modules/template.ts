import { BallastError } from '../../../../shared/src/errors.js';
import type { ModuleArgs } from '../../../../shared/src/tasks/modules.js';
import { ensureManagedFile } from '../managed-file.js';
import type { Module } from '../module.js';

/** `{{ name }}` with optional spaces; anything else between braces is literal text. */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/**
 * Renders `{{ name }}` placeholders from `vars`. Deliberately no expressions, loops or filters: a
 * template is data, and the controller does any logic before it sends the task. Other `{{…}}`
 * text (e.g. a Go template inside a config file) is left as it is. Every undefined variable is
 * reported at once, with the line it is used on.
 */
export function renderTemplate(template: string, vars: ModuleArgs<'template'>['vars']): string {
  const missing = new Map<string, number>();
  const rendered = template.replace(PLACEHOLDER, (_match, name: string, offset: number) => {
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (value === undefined) {
      if (!missing.has(name)) missing.set(name, template.slice(0, offset).split('\n').length);
      return '';
    }
    return String(value);
  });
  if (missing.size > 0) {
    const list = [...missing].map(([name, line]) => `"${name}" (line ${line})`).join(', ');
    const first = [...missing.keys()][0];
    throw new BallastError('BALLAST_ERR_TEMPLATE_VARIABLE', `failed to render template: undefined variable ${list}`, {
      path: `/args/vars/${first}`,
    });
  }
  return rendered;
}

/** `template`: like `file`, with content rendered from `template` and `vars`. */
export const templateModule: Module<'template'> = {
  name: 'template',
  async run(args, ctx) {
    const { template, vars, ...rest } = args;
    const { contentChanged: _, ...outcome } = await ensureManagedFile(ctx, { ...rest, content: renderTemplate(template, vars) });
    return outcome;
  },
};
