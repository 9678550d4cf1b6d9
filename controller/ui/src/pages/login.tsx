/** The login form: an operator token (`ballastctl operator create`, or admin.conf's), checked with /v1/whoami. */
import { useState } from 'preact/hooks';
import type { Role } from '../../../../shared/src/api.js';
import { createApi, describeError } from '../api.js';

/** `GET /v1/whoami` (shared/src/api.ts WhoAmISchema). */
export interface WhoAmI {
  name: string;
  role: Role;
}

/** Calls `onLogin` with the token once the controller accepted it. */
export function Login(props: { onLogin: (token: string, who: WhoAmI) => void; notice: string | null }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(props.notice);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const trimmed = token.trim();
      const who = await createApi(trimmed, () => {}).get<WhoAmI>('/v1/whoami');
      props.onLogin(trimmed, who);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>Ballast</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          Operator token
          <input
            type="password"
            name="token"
            autocomplete="off"
            required
            value={token}
            onInput={(e) => setToken((e.target as HTMLInputElement).value)}
            placeholder="blst_…"
          />
        </label>
        <button type="submit" disabled={busy || token.trim() === ''}>
          Log in
        </button>
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <p class="hint">The same token ballastctl uses (admin.conf, or ballastctl operator create NAME --role viewer|operator). It is kept in this tab only.</p>
      </form>
    </main>
  );
}
