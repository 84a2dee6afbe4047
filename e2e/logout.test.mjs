// Logout and session management with real relying parties in Chromium:
// oidc-client-ts with monitorSession (it embeds oidcd's check_session_iframe)
// sees "changed" when the user signs out in another tab, and its
// signoutRedirect() comes back to its post-logout page with its state after
// oidcd's signed-out page has loaded each relying party's front-channel
// logout iframe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALICE, startOidcd, freePort, launchChromium, newContext, authorize, recordConsole, describePage, screenshot,
} from './lib/oidcd.mjs';
import { startStaticServer } from './lib/static.mjs';

let server;
let browser;
let rp1;
let rp2;

// logoutClient registers a public code-flow client of an app at origin
// with its silent-renew page, post-logout page and front-channel logout URI.
async function logoutClient(name, origin, { sessionRequired }) {
  const args = ['clients', 'create', '--json', '--name', name, '--type', 'public', '--scope', 'openid profile',
    '--redirect-uri', `${origin}/session-callback.html`, '--redirect-uri', `${origin}/session-silent.html`,
    '--post-logout-redirect-uri', `${origin}/session-loggedout.html`,
    '--frontchannel-logout-uri', `${origin}/frontchannel.html`, '--require-consent=false', '--reuse-consent=false'];
  if (sessionRequired) args.push('--frontchannel-logout-session-required');
  return JSON.parse(await server.cli(...args));
}

before(async () => {
  const [srv, port1, port2, br] = await Promise.all([
    startOidcd({ extraEnv: { OIDCD_SESSION_MANAGEMENT_ENABLE: 'true' } }), freePort(), freePort(), launchChromium(),
  ]);
  server = srv;
  browser = br;
  await server.createUser(ALICE);
  const o1 = `http://127.0.0.1:${port1}`;
  const o2 = `http://127.0.0.1:${port2}`;
  const c1 = await logoutClient('Monitoring SPA', o1, { sessionRequired: true });
  const c2 = await logoutClient('Second SPA', o2, { sessionRequired: false });
  const config = (c) => ({ issuer: server.issuer, sessionClientId: c.client_id, logoutState: 'e2e' });
  [rp1, rp2] = await Promise.all([
    startStaticServer({ port: port1, issuer: server.issuer, config: config(c1), frameIssuer: true }),
    startStaticServer({ port: port2, issuer: server.issuer, config: config(c2), frameIssuer: true }),
  ]);
  assert.equal(server.metadata.check_session_iframe, `${server.issuer}/check-session-iframe`);
  assert.equal(server.metadata.end_session_endpoint, `${server.issuer}/end-session`);
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  await rp1?.close();
  await rp2?.close();
  await server?.stop();
});

// signIn opens session.html of app in page, signs in through oidcd's pages
// and waits until the app shows the user.
async function signIn(page, app, consoleLines) {
  const fail = async (msg) => assert.fail(`${msg}\n\n${await describePage(page, { server, consoleLines })}`);
  await page.goto(`${app.origin}/session.html`);
  await page.click('#login');
  await page.waitForURL((u) => u.origin === server.issuer, { waitUntil: 'commit' })
    .catch(() => fail('clicking Login did not navigate to oidcd'));
  await authorize(page, { server, consoleLines, done: (u) => u.origin === app.origin });
  await page.locator('#status[data-state="done"], #status[data-state="error"]').waitFor({ timeout: 10000 })
    .catch(() => fail('the app did not finish signing in'));
  if (await page.getAttribute('#status', 'data-state') !== 'done') await fail('sign-in failed');
  if (!(await page.textContent('#session-state'))) await fail('no session_state in the authorization response');
  return fail;
}

test('oidc-client-ts monitorSession sees "changed" when the user signs out in another tab', async (t) => {
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLines = recordConsole(page);
  const fail = await signIn(page, rp1, consoleLines);
  // The library polls the check_session_iframe every second.
  await page.locator('#monitor[data-state="unchanged"]').waitFor({ timeout: 10000 })
    .catch(() => fail('the check_session_iframe never answered "unchanged"'));

  const other = await context.newPage();
  await other.goto(`${server.issuer}/logout`);
  await Promise.all([other.waitForLoadState('load'), other.locator('form button[type="submit"]').click()]);
  await other.getByText('You have been signed out.').waitFor({ timeout: 10000 });

  await page.locator('#monitor[data-state="changed"]').waitFor({ timeout: 10000 })
    .catch(() => fail('the check_session_iframe did not answer "changed" after the logout'));
  await page.locator('#status[data-state="signed-out"]').waitFor({ timeout: 15000 })
    .catch(() => fail('oidc-client-ts did not raise userSignedOut'));
  await screenshot(page, 'session-monitor-changed');
});

test('signoutRedirect() returns to the post-logout page with its state after the front-channel iframes', async (t) => {
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLines = recordConsole(page);
  const fail = await signIn(page, rp1, consoleLines);
  // The same browser signs in to a second relying party (single sign-on).
  const page2 = await context.newPage();
  await signIn(page2, rp2, recordConsole(page2));
  await page2.close();
  const before1 = rp1.urls.length;
  const before2 = rp2.urls.length;

  await page.click('#logout');
  await page.waitForURL((u) => u.origin === rp1.origin && u.pathname === '/session-loggedout.html', { timeout: 15000 })
    .catch(() => fail('signoutRedirect did not come back to the post-logout page'));
  await page.locator('#status[data-state="done"], #status[data-state="error"]').waitFor({ timeout: 10000 });
  if (await page.getAttribute('#status', 'data-state') !== 'done') await fail('signoutRedirectCallback failed');
  assert.equal(await page.textContent('#state'), 'rp-state-e2e', 'the state given to signoutRedirect came back');

  // oidcd's signed-out page loaded each relying party's front-channel
  // logout URI; the first asked for iss and sid.
  const fc1 = rp1.urls.slice(before1).find((u) => u.startsWith('/frontchannel.html'));
  const fc2 = rp2.urls.slice(before2).find((u) => u.startsWith('/frontchannel.html'));
  assert.ok(fc1, `the first RP's front-channel page was not loaded: ${rp1.urls.slice(before1).join(', ')}`);
  assert.ok(fc2, `the second RP's front-channel page was not loaded: ${rp2.urls.slice(before2).join(', ')}`);
  const q = new URL(fc1, rp1.origin).searchParams;
  assert.equal(q.get('iss'), server.issuer);
  assert.ok(q.get('sid'), 'no sid in the front-channel logout URI');

  // The session is over at oidcd.
  await page.goto(`${server.issuer}/login`);
  assert.equal(await page.locator('form input[name="password"]').count(), 1);
  assert.equal(await page.getByText('Signed in as').count(), 0);
});
