/**
 * Browser helpers for the web UI tests: Debian's Chromium driven by playwright-core (no browser
 * download: the system binary), a login, and screenshots kept under test-artifacts/ui (gitignored).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from './harness.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'ui');

/** Why the browser tests cannot run here, or null when they can. */
export function browserSkipReason(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium)`;
  if (!existsSync(join(ROOT, 'dist/controller/ui/index.html'))) return 'the web UI is not built (npm run build)';
  return null;
}

/** Headless Chromium; `--no-sandbox` because the tests may run as root. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** A fresh context (its own sessionStorage) that accepts the controller's self-signed chain. */
export function newContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1360, height: 860 } });
}

/** Collects what the browser reports as CSP violations on `page` (console errors naming the policy). */
export function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) seen.push(m.text());
  });
  return seen;
}

/** Opens `${base}/ui`, logs in with `token` and waits for the shell to show who is logged in. */
export async function login(page: Page, base: string, token: string): Promise<string> {
  await page.goto(`${base}/ui`);
  await page.fill('input[name=token]', token);
  await page.click('button[type=submit]');
  return (await page.locator('[data-testid=who]').textContent({ timeout: 10_000 })) ?? '';
}

/** Clicks a navigation link (a hash change: the page is not reloaded). */
export async function open(page: Page, label: string): Promise<void> {
  await page.click(`header nav a:text-is("${label}")`);
}

/** Saves a full-page screenshot as test-artifacts/ui/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Marks the page's JavaScript realm; {@link marked} is false after any reload or navigation. */
export async function mark(page: Page): Promise<void> {
  await page.evaluate(() => Reflect.set(globalThis, 'ballastTestMark', true));
}

export async function marked(page: Page): Promise<boolean> {
  return page.evaluate(() => Reflect.get(globalThis, 'ballastTestMark') === true);
}

/** A POST from inside the page (same origin, the page's own fetch), as a viewer pressing a hidden button would. */
export async function postFromPage(page: Page, path: string, token: string, body: unknown): Promise<{ status: number; body: { code?: string; message?: string } }> {
  return page.evaluate(
    async ([p, t, b]) => {
      const r = await fetch(p, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' }, body: JSON.stringify(b) });
      return { status: r.status, body: (await r.json()) as { code?: string; message?: string } };
    },
    [path, token, body] as const,
  );
}
