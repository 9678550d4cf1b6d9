/**
 * Where the operator token lives between page loads: sessionStorage, per tab, gone when the tab
 * closes. Not a cookie (decision): a cookie is sent by the browser on its own, which would open
 * a cross-site request forgery surface on every mutating route; a token the page adds to the
 * Authorization header itself is never sent by another site. The CSP (no inline script, connect
 * to 'self' only) is what guards it against script injection.
 */
const KEY = 'ballast.token';

/** The token saved for this tab, or null. */
export function savedToken(): string | null {
  return sessionStorage.getItem(KEY);
}

/** Remembers `token` for this tab. */
export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

/** Forgets the token (log out, or the API said it is unknown or revoked). */
export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}
