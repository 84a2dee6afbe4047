// Helpers of the web console tests: signing in through the login page, and
// check(), which shoots a page at desktop and phone widths and runs
// axe-core on it.
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { SCREENSHOT_DIR, newContext, recordConsole } from './oidcd.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const CONSOLE_SHOTS = path.join(SCREENSHOT_DIR, 'console');
export const VIEWPORTS = { desktop: { width: 1280, height: 900 }, phone: { width: 390, height: 844 } };
export const ADMIN = { username: 'admin', password: 'e2e-admin-password-not-secret' };

// signedInPage opens a fresh browser profile at pathname, which sends it to
// the login page; it signs in as user and returns the page, back at
// pathname. The context closes with t (or stays open when t is null).
export async function signedInPage(t, browser, server, pathname, user) {
  const context = await newContext(browser);
  if (t) t.after(() => context.close());
  const page = await context.newPage();
  page.consoleLines = recordConsole(page);
  await page.setViewportSize(VIEWPORTS.desktop);
  await page.goto(server.issuer + pathname);
  assert.equal(new URL(page.url()).pathname, '/login', `${pathname} sends an anonymous browser to the login page`);
  await page.fill('#username', user.username);
  await page.fill('#password', user.password);
  await Promise.all([page.waitForURL((u) => u.pathname !== '/login'), page.click('button[type="submit"]')]);
  assert.equal(new URL(page.url()).pathname, pathname, `the login page returns to ${pathname}`);
  return page;
}

// check saves full-page screenshots of page at desktop and phone widths
// (artifacts/screenshots/console/NAME-desktop.png, -phone.png) and runs
// axe-core at phone width: no serious or critical violation, and nothing
// wider than the screen. axe is evaluated through the DevTools protocol,
// so the page keeps its strict Content-Security-Policy.
export async function check(page, name) {
  mkdirSync(CONSOLE_SHOTS, { recursive: true });
  await page.setViewportSize(VIEWPORTS.desktop);
  await page.screenshot({ path: path.join(CONSOLE_SHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(VIEWPORTS.phone);
  await page.screenshot({ path: path.join(CONSOLE_SHOTS, `${name}-phone.png`), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `${name} scrolls sideways on a phone (${overflow}px)`);
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [],
    `axe-core on ${name}`);
  await page.setViewportSize(VIEWPORTS.desktop);
}
