// The account page, the 403 page, and the consents, sessions and audit
// pages of the web console in Chromium: screenshots at desktop and phone
// widths and axe-core (see console-pages.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ALICE, startOidcd, launchChromium, authorize } from './lib/oidcd.mjs';
import { ADMIN, check, signedInPage } from './lib/console.mjs';

let server;
let browser;
let clientId;

before(async () => {
  [server, browser] = await Promise.all([startOidcd(), launchChromium()]);
  await server.createUser(ALICE);
  // A client alice consents to, so that the pages have rows. Its redirect
  // URI is oidcd's own /healthz: the browser only has to land somewhere.
  const c = await server.createClient({ name: 'Photo Book', redirectUris: [`${server.issuer}/healthz`], requireConsent: true });
  clientId = c.client_id;
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the account page, the 403 page, keyboard', async (t) => {
  const user = await signedInPage(t, browser, server, '/account', ALICE);
  await check(user, 'account-empty');
  const auth = new URL(`${server.issuer}/authorize`);
  auth.search = new URLSearchParams({
    client_id: clientId, response_type: 'code', scope: 'openid profile email', redirect_uri: `${server.issuer}/healthz`,
    state: 'st4te', nonce: 'n0nce', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  }).toString();
  await user.goto(auth.href);
  const seen = await authorize(user, { server, consoleLines: user.consoleLines, done: (u) => u.pathname === '/healthz' });
  assert.ok(seen.consent, 'alice saw the consent page');
  await user.goto(`${server.issuer}/account`);
  assert.equal(await user.locator('button[aria-label="Revoke access of Photo Book"]').count(), 1, 'the account page lists Photo Book');
  await check(user, 'account');

  const forbidden = await user.goto(`${server.issuer}/admin/users`);
  assert.equal(forbidden.status(), 403);
  await check(user, 'admin-forbidden');

  // Keyboard: the skip link comes first and leads to the content.
  await user.goto(`${server.issuer}/account`);
  await user.keyboard.press('Tab');
  assert.equal(await user.evaluate(() => document.activeElement.textContent), 'Skip to content');
  await user.keyboard.press('Enter');
  assert.equal(new URL(user.url()).hash, '#main');
});

test('consents, sessions and audit pages', async (t) => {
  const admin = await signedInPage(t, browser, server, '/admin/', ADMIN);
  for (const [name, p] of [
    ['admin-consents', '/admin/consents?user=alice'],
    ['admin-consents-client', `/admin/consents?client=${clientId}`],
    ['admin-sessions', '/admin/sessions?user=alice'],
    ['admin-audit', '/admin/audit'],
  ]) {
    const resp = await admin.goto(server.issuer + p);
    assert.equal(resp.status(), 200, `${p}: ${resp.status()}`);
    await check(admin, name);
  }
});
