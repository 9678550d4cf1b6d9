/** Who is logged in and the API client with their token, for every page. */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Role } from '../../../shared/src/api.js';
import type { Api } from './api.js';

/** The logged-in operator (from `GET /v1/whoami`) and their client. */
export interface Session {
  name: string;
  role: Role;
  api: Api;
  /** False for a viewer: action buttons are disabled (the API refuses anyway). */
  canAct: boolean;
}

export const SessionContext = createContext<Session | null>(null);

/** The session; pages render only inside a logged-in app. */
export function useSession(): Session {
  const s = useContext(SessionContext);
  if (s === null) throw new Error('no session: a page rendered outside the logged-in app');
  return s;
}
