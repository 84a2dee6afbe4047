// The web console's overview and client pages in Chromium: a full-page
// screenshot at desktop and phone widths (artifacts/screenshots/console/),
// axe-core without a serious or critical violation, nothing wider than a
// phone's screen (lib/console.mjs). console-pages-admin.test.mjs and
// console-pages-account.test.mjs check the other pages: the checks are
// slow, and each file must end within the runner's time limit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startOidcd, launchChromium } from './lib/oidcd.mjs';
import { ADMIN, check, signedInPage } from './lib/console.mjs';

let server;
let browser;
let admin;

before(async () => {
  [server, browser] = await Promise.all([startOidcd(), launchChromium()]);
  admin = await signedInPage(null, browser, server, '/admin/', ADMIN);
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('overview and client pages', async () => {
  await check(admin, 'admin-overview');
  await admin.goto(`${server.issuer}/admin/clients/new`);
  await check(admin, 'admin-client-new');
  await admin.fill('#client_name', 'Pages RP');
  await admin.fill('#redirect_uris', 'https://rp.example/cb');
  await admin.fill('#client_uri', 'https://rp.example');
  await admin.click('button:has-text("Register the client")');
  const id = (await admin.textContent('dl.props dd code'))?.trim();
  assert.ok(id, 'the created client page shows its id');
  assert.ok((await admin.textContent('#client_secret'))?.trim(), 'and its secret');
  await check(admin, 'admin-client-created');
  for (const [name, p] of [
    ['admin-clients', '/admin/clients'],
    ['admin-clients-search', '/admin/clients?q=pages'],
    ['admin-client-edit', `/admin/clients/${id}`],
  ]) {
    const resp = await admin.goto(server.issuer + p);
    assert.equal(resp.status(), 200, `${p}: ${resp.status()}`);
    await check(admin, name);
  }
});
