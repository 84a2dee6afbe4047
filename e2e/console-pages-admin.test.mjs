// The web console's client deletion, refusal, key and user pages in
// Chromium: screenshots at desktop and phone widths and axe-core (see
// console-pages.test.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ALICE, startOidcd, launchChromium } from './lib/oidcd.mjs';
import { ADMIN, check, signedInPage } from './lib/console.mjs';

let server;
let browser;
let admin;
let clientId;

before(async () => {
  [server, browser] = await Promise.all([startOidcd(), launchChromium()]);
  await server.createUser(ALICE);
  clientId = (await server.createClient({ name: 'Pages RP', redirectUris: ['https://rp.example/cb'] })).client_id;
  admin = await signedInPage(null, browser, server, '/admin/', ADMIN);
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('client deletion and refusal, keys and users pages', async () => {
  for (const [name, p] of [
    ['admin-client-delete', `/admin/clients/${clientId}/delete`],
    ['admin-keys', '/admin/keys'],
    ['admin-users', '/admin/users'],
    ['admin-user-new', '/admin/users/new'],
  ]) {
    const resp = await admin.goto(server.issuer + p);
    assert.equal(resp.status(), 200, `${p}: ${resp.status()}`);
    await check(admin, name);
  }
  // A refusal shows the reason on the form.
  await admin.goto(`${server.issuer}/admin/clients/${clientId}`);
  await admin.fill('#redirect_uris', 'https://rp.example/cb#fragment');
  await admin.click('button:has-text("Save changes")');
  assert.match(await admin.textContent('[role="alert"]'), /not saved/);
  await check(admin, 'admin-client-refused');

  await admin.goto(`${server.issuer}/admin/users?q=alice`);
  await admin.click('td[data-label="Username"] a');
  await check(admin, 'admin-user-edit');
  await admin.goto(`${admin.url()}/delete`);
  await check(admin, 'admin-user-delete');
});
