import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { headerLine } from '../managed-file.js';
import { createModuleRegistry } from '../registry.js';
import { makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';
import { renderTemplate } from './template.js';

const registry = createModuleRegistry();
let root: string;
beforeEach(async () => {
  root = await makeTempRoot();
});

describe('renderTemplate', () => {
  it('fills {{ name }} placeholders, with or without spaces, from strings, numbers and booleans', () => {
    expect(renderTemplate('a={{ a }} b={{b}} c={{  c }}\n', { a: 'x', b: 2, c: true })).toBe('a=x b=2 c=true\n');
  });

  it('leaves other brace text alone (Go templates in config files)', () => {
    expect(renderTemplate('{{.Name}} {{ a.b }} {{ x }}', { x: '1' })).toBe('{{.Name}} {{ a.b }} 1');
  });

  it('names every undefined variable with its line', async () => {
    expect(await rejection(Promise.resolve().then(() => renderTemplate('ok\n{{ one }}\n{{ two }} {{ one }}', {})))).toMatchObject({
      code: 'BALLAST_ERR_TEMPLATE_VARIABLE',
      path: '/args/vars/one',
      message: 'failed to render template: undefined variable "one" (line 2), "two" (line 3)',
    });
  });

  it('does not take variables from the object prototype', () => {
    expect(() => renderTemplate('{{ constructor }}', {})).toThrow(/undefined variable "constructor"/);
  });
});

describe('template module', () => {
  const args = { path: '/etc/etcd/etcd.env', template: 'NAME={{ name }}\nPORT={{ port }}\n', vars: { name: 'cp1', port: 2379 } };

  it('writes the rendered file with the header, then reports no change', async () => {
    const out = await registry.run('template', args, testContext(root));
    expect(out).toMatchObject({ changed: true, message: 'created /etc/etcd/etcd.env' });
    expect(await readFile(join(root, 'etc/etcd/etcd.env'), 'utf8')).toBe(`${headerLine('#')}\nNAME=cp1\nPORT=2379\n`);
    expect((await registry.run('template', args, testContext(root))).changed).toBe(false);
    const changed = await registry.run('template', { ...args, vars: { name: 'cp1', port: 2380 } }, testContext(root));
    expect(changed.diff).toContain('-PORT=2379\n+PORT=2380\n');
  });

  it('fails an undefined variable and writes nothing', async () => {
    const before = await snapshotTree(root);
    const err = await rejection(registry.run('template', { ...args, vars: { name: 'cp1' } }, testContext(root)));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_TEMPLATE_VARIABLE', path: '/args/vars/port' });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('check mode touches nothing', async () => {
    await mkdir(join(root, 'etc/etcd'), { recursive: true });
    await writeFile(join(root, 'etc/etcd/etcd.env'), `${headerLine('#')}\nNAME=old\n`);
    const before = await snapshotTree(root);
    const out = await registry.run('template', args, testContext(root, { check: true }));
    expect(out).toMatchObject({ changed: true, message: 'would update /etc/etcd/etcd.env (content)' });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('fails bad vars with the field path', async () => {
    const err = await rejection(registry.run('template', { ...args, vars: { name: { nested: 1 } } }, testContext(root)));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/vars/name' });
  });
});
