/**
 * The app shell: login until a token is accepted, then a page per hash route (#/fleet, #/cluster,
 * #/snapshots, #/ops, #/ops/<id>, #/replacements, #/events, #/certs, #/audit). Hash routes keep every page under /ui/ so the
 * controller serves one index.html.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { createApi } from './api.js';
import { type Session, SessionContext } from './context.js';
import { Audit } from './pages/audit.js';
import { Certs } from './pages/certs.js';
import { Cluster } from './pages/cluster.js';
import { Events } from './pages/events.js';
import { Fleet } from './pages/fleet.js';
import { Login, type WhoAmI } from './pages/login.js';
import { Operation } from './pages/operation.js';
import { OperationsPage } from './pages/operations.js';
import { Replacements } from './pages/replacements.js';
import { Snapshots } from './pages/snapshots.js';
import { forgetToken, saveToken, savedToken } from './session.js';

const NAV: ReadonlyArray<{ hash: string; label: string }> = [
  { hash: '#/fleet', label: 'Fleet' },
  { hash: '#/cluster', label: 'Cluster' },
  { hash: '#/snapshots', label: 'Snapshots' },
  { hash: '#/ops', label: 'Operations' },
  { hash: '#/replacements', label: 'Replacements' },
  { hash: '#/events', label: 'Events' },
  { hash: '#/certs', label: 'Certificates' },
  { hash: '#/audit', label: 'Audit' },
];

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/fleet');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/fleet');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Page(props: { hash: string }) {
  const op = /^#\/ops\/(op-[0-9a-f]{12})$/.exec(props.hash);
  if (op !== null) return <Operation id={op[1] as string} />;
  switch (props.hash) {
    case '#/cluster':
      return <Cluster />;
    case '#/snapshots':
      return <Snapshots />;
    case '#/ops':
      return <OperationsPage />;
    case '#/replacements':
      return <Replacements />;
    case '#/events':
      return <Events />;
    case '#/certs':
      return <Certs />;
    case '#/audit':
      return <Audit />;
    default:
      return <Fleet />;
  }
}

export function App() {
  const [token, setToken] = useState<string | null>(savedToken());
  const [who, setWho] = useState<WhoAmI | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const hash = useHash();
  const logout = (why: string | null) => {
    forgetToken();
    setToken(null);
    setWho(null);
    setNotice(why);
  };
  const api = useMemo(() => (token === null ? null : createApi(token, () => logout('The controller no longer accepts this token; log in again.'))), [token]);
  // A token kept from earlier in this tab: ask who it is before showing anything.
  useEffect(() => {
    if (api === null || who !== null) return;
    api.get<WhoAmI>('/v1/whoami').then(setWho, () => logout('Log in again.'));
  }, [api, who]);
  if (api === null || who === null) {
    if (api !== null) return <p class="loading">Checking the token…</p>;
    return (
      <Login
        notice={notice}
        onLogin={(t, w) => {
          saveToken(t);
          setToken(t);
          setWho(w);
          setNotice(null);
        }}
      />
    );
  }
  const session: Session = { name: who.name, role: who.role, api, canAct: who.role !== 'viewer' };
  const active = hash.startsWith('#/ops') ? '#/ops' : hash;
  return (
    <SessionContext.Provider value={session}>
      <header>
        <span class="brand">Ballast</span>
        <nav>
          {NAV.map((n) => (
            <a key={n.hash} href={n.hash} class={n.hash === active ? 'active' : ''}>
              {n.label}
            </a>
          ))}
        </nav>
        <span class="who" data-testid="who">
          {who.name} ({who.role})
        </span>
        <button type="button" onClick={() => logout(null)}>
          Log out
        </button>
      </header>
      <main>
        <Page hash={hash} />
      </main>
    </SessionContext.Provider>
  );
}
