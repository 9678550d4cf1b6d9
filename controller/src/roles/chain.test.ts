/**
 * The chain role (chain.ts): one run of several roles for one host — the links' tasks in order,
 * their handlers once at the end, every link's problems under its own path, and each link's
 * secrets redacted with its own schema.
 */
import { describe, expect, it } from 'vitest';
import { CHAIN_ROLE, chainVars, redactRoleVars, renderRole } from './index.js';
import { FULL_MIRROR, HOST, mustRender, TEST_TLS } from './testing.js';

const render = (vars: Record<string, unknown>) => renderRole(CHAIN_ROLE, { host: HOST, vars, artifacts: FULL_MIRROR });

describe('chain role', () => {
  it('renders its links’ tasks in order and their handlers after them, each handler once', () => {
    const links = [
      { role: 'containerd', vars: {} },
      { role: 'kube-node', vars: {} },
      { role: 'etcd', vars: { tls: TEST_TLS, start: false } },
    ];
    const result = render(chainVars(links));
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const parts = links.map((l) => mustRender(l.role, l.vars));
    expect(result.role.tasks.map((t) => t.name)).toEqual(parts.flatMap((p) => p.tasks.map((t) => t.name)));
    const handlerNames = [...new Set(parts.flatMap((p) => p.handlers.map((h) => h.name)))];
    expect(result.role.handlers.map((h) => h.name)).toEqual(handlerNames);
    expect(result.role.tasks[0]?.name).toBe('Install containerd binaries');
  });

  it('lists every link’s problems under its own path, and refuses a chain in a chain or a malformed one', () => {
    const result = render(chainVars([{ role: 'containerd', vars: { nope: 1 } }, { role: 'etcd', vars: {} }, { role: CHAIN_ROLE, vars: {} }]));
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
    expect(problems).toContain('/vars/links/0/vars/nope: containerd: unknown variable');
    expect(problems.some((p) => p.startsWith('/vars/links/1/vars/tls: etcd: '))).toBe(true);
    expect(problems).toContain('/vars/links/2/role: a chain cannot hold a chain');
    const malformed = render({ links: [] });
    expect(malformed.ok ? '' : malformed.problems[0]?.message).toMatch(/^not a chain of 1 to 8 links/);
    expect(render(chainVars([{ role: 'nonsense', vars: {} }])).ok).toBe(false);
  });

  it('refuses a hostile var inside a link exactly as the role alone does, with its code (a chain is no way around a role’s safe domains)', () => {
    const alone = renderRole('containerd', { host: HOST, vars: { binDir: '/tmp/evil' }, artifacts: FULL_MIRROR });
    const chained = render(chainVars([{ role: 'os-prep', vars: {} }, { role: 'containerd', vars: { binDir: '/tmp/evil' } }]));
    expect(alone.ok || chained.ok).toBe(false);
    const codes = (r: typeof alone) => (r.ok ? [] : r.problems.map((p) => p.code));
    expect(codes(chained)).toEqual(codes(alone));
    expect(codes(chained)).toContain('BALLAST_ERR_UNSAFE_PATH');
  });

  it('redacts each link’s secrets with that link’s schema; a malformed chain is hidden whole', () => {
    const shown = redactRoleVars(CHAIN_ROLE, chainVars([{ role: 'os-prep', vars: {} }, { role: 'etcd', vars: { tls: { ...TEST_TLS }, start: false } }])) as {
      links: { role: string; vars: { tls?: Record<string, string>; start?: boolean } }[];
    };
    expect(shown.links.map((l) => l.role)).toEqual(['os-prep', 'etcd']);
    expect(shown.links[1]?.vars.tls?.serverKey).toBe('<redacted>');
    expect(shown.links[1]?.vars.tls?.peerKey).toBe('<redacted>');
    expect(shown.links[1]?.vars.tls?.caCert).toBe(TEST_TLS.caCert);
    expect(shown.links[1]?.vars.start).toBe(false);
    expect(redactRoleVars(CHAIN_ROLE, { links: 'x', key: 'secret' })).toEqual({ links: '<redacted>' });
  });
});
