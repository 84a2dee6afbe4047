// The web console in Spanish, French and Polish (ui_locales): each page a
// signed-in admin sees, shot at desktop and phone widths and checked by
// axe-core like the English pages (lib/console.mjs), not scrolling
// sideways at 320 px either, and declaring its language. The Go tests check that no message is left untranslated.
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

const PAGES = [
  ['account', '/account'],
  ['admin-overview', '/admin/'],
  ['admin-clients', '/admin/clients'],
  ['admin-client-new', '/admin/clients/new'],
  ['admin-keys', '/admin/keys'],
  ['admin-users', '/admin/users'],
  ['admin-user-new', '/admin/users/new'],
  ['admin-consents', '/admin/consents?user=admin'],
  ['admin-sessions', '/admin/sessions?user=admin'],
  ['admin-audit', '/admin/audit'],
];

for (const lang of ['es', 'fr', 'pl']) {
  test(`the console in ${lang}`, async () => {
    // An existing account's form and its delete confirmation, by the link
    // the users page gives.
    await admin.goto(`${server.issuer}/admin/users?q=admin&ui_locales=${lang}`);
    const user = new URL(await admin.getAttribute('main table a[href*="/admin/users/"]', 'href'), server.issuer).pathname;
    const pages = [...PAGES, ['admin-user-edit', user], ['admin-user-delete', `${user}/delete`]];
    for (const [name, p] of pages) {
      const sep = p.includes('?') ? '&' : '?';
      const resp = await admin.goto(`${server.issuer}${p}${sep}ui_locales=${lang}`);
      assert.equal(resp.status(), 200, `${p} in ${lang}: ${resp.status()}`);
      assert.equal(await admin.getAttribute('html', 'lang'), lang, `${p} declares ${lang}`);
      await check(admin, `${name}-${lang}`);
      // The narrowest phones (320 px, WCAG 2.1 reflow): still nothing
      // wider than the screen.
      await admin.setViewportSize({ width: 320, height: 640 });
      const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${p} in ${lang} scrolls sideways at 320 px (${overflow}px)`);
      await admin.setViewportSize({ width: 1280, height: 900 });
    }
  });
}
