// Every page a person sees, in every language, at a desktop width and at
// 320 CSS px (a phone, and WCAG 1.4.10's reflow width = a 1280 px window
// zoomed to 400%), checked by axe-core (no serious or critical violation of
// WCAG 2.1 A/AA or best practice), for horizontal scrolling, for the
// branded stylesheet loading under oidcd's strict policy, and for a visible
// keyboard focus; plus a whole sign-in with JavaScript off. Screenshots:
// artifacts/screenshots/pages-<page>-<lang>-<width>.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import {
  ALICE, startOidcd, launchChromium, newContext, recordConsole, describePage, screenshot,
} from './lib/oidcd.mjs';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const LANGS = ['en', 'es', 'fr', 'pl'];
// phone: 320 CSS px, also WCAG 1.4.10's reflow width (a 1280 px window at
// 400%); zoom200: a 1280×800 window at 200% (its CSS viewport).
const WIDTHS = { desktop: { width: 1280, height: 800 }, phone: { width: 320, height: 640 } };
const ZOOM200 = { width: 640, height: 400 };
const PRIMARY = '#7a1fa2';
let CALLBACK; // a tiny relying party: the redirect URI answers 200

let server;
let browser;
let callbackServer;
let rp; // confidential, require + reuse consent, website and terms
let tv; // device client

before(async () => {
  callbackServer = http.createServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end('callback'); });
  await new Promise((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
  CALLBACK = `http://127.0.0.1:${callbackServer.address().port}/cb`;
  const [srv, br] = await Promise.all([
    startOidcd({ extraEnv: {
      OIDCD_DEVICE_FLOW_ENABLE: 'true',
      OIDCD_SITE_NAME: 'Example ID',
      OIDCD_PRIMARY_COLOR: PRIMARY,
      OIDCD_PRIVACY_URL: 'https://example.com/privacy',
      OIDCD_TERMS_URL: 'https://example.com/terms',
      OIDCD_HELP_URL: 'https://example.com/help',
    } }),
    launchChromium(),
  ]);
  server = srv;
  browser = br;
  await server.createUser(ALICE);
  rp = JSON.parse(await server.cli('clients', 'create', '--json', '--name', 'Photo Album', '--redirect-uri', CALLBACK,
    '--scope', 'openid profile email phone address offline_access', '--require-consent', '--reuse-consent',
    '--website', 'https://photos.example/', '--terms-url', 'https://photos.example/terms'));
  tv = await server.createClient({ name: 'Living Room TV', type: 'public', responseTypes: [], grantTypes: ['device_code'], scope: 'openid profile' });
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  await server?.stop();
  callbackServer?.close();
});

function authorizeURL(lang, extra = {}) {
  const q = new URLSearchParams({
    client_id: rp.client_id, redirect_uri: CALLBACK, response_type: 'code', scope: 'openid profile email phone offline_access',
    state: 'st', nonce: 'n', ui_locales: lang, prompt: 'consent', ...extra,
  });
  return `${server.issuer}/authorize?${q}`;
}

async function newPage(t, viewport, { javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ viewport, javaScriptEnabled });
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLines = recordConsole(page);
  return { context, page, consoleLines };
}

async function signIn(page) {
  await page.fill('#username', ALICE.username);
  await page.fill('#password', ALICE.password);
  await Promise.all([page.waitForLoadState('load'), page.locator('form button[type="submit"]').click()]);
}

// check runs every check on the page shown and saves its screenshot.
async function check(page, { name, lang, width, consoleLines }) {
  const where = `${name} (${lang}, ${width})`;
  const fail = async (msg) => assert.fail(`${where}: ${msg}\n\n${await describePage(page, { server, consoleLines })}`);
  await page.waitForLoadState('load');
  await screenshot(page, `pages-${name}-${lang}-${width}`);
  if (await page.getAttribute('html', 'lang') !== lang) await fail(`<html lang> is ${await page.getAttribute('html', 'lang')}`);
  // The stylesheet loaded despite the policy: links take the primary colour.
  const styled = await page.evaluate(() => getComputedStyle(document.body).getPropertyValue('--primary').trim());
  if (styled !== PRIMARY) await fail(`the branded stylesheet did not load (--primary is "${styled}")`);
  const blocked = consoleLines.filter((l) => /Content Security Policy/.test(l));
  if (blocked.length) await fail(`the policy blocked something:\n${blocked.join('\n')}`);
  // Reflow: nothing wider than the window.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  if (overflow > 0) await fail(`the page scrolls sideways by ${overflow}px`);
  // axe-core, injected through the DevTools protocol (not a <script>, which
  // the policy forbids).
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    await fail('axe-core found:\n' + bad.map((v) => `- ${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.html).slice(0, 3).join('\n  ')}`).join('\n'));
  }
  return result;
}

for (const [width, viewport] of Object.entries(WIDTHS)) {
  for (const lang of LANGS) {
    test(`every page in ${lang} at ${width} width`, { timeout: 600000 }, async (t) => {
      const { page, consoleLines } = await newPage(t, viewport);
      const c = (name) => check(page, { name, lang, width, consoleLines });

      // Error page: an unknown client.
      await page.goto(`${server.issuer}/authorize?client_id=nobody&redirect_uri=${encodeURIComponent(CALLBACK)}&response_type=code&scope=openid&ui_locales=${lang}`);
      await c('error');

      // Login, then a wrong password: the error is announced and tied to the fields.
      await page.goto(authorizeURL(lang));
      await c('login');
      await page.fill('#username', ALICE.username);
      await page.fill('#password', 'wrong password');
      await Promise.all([page.waitForLoadState('load'), page.locator('form button[type="submit"]').click()]);
      assert.equal(await page.getAttribute('#password', 'aria-describedby'), 'login-error');
      assert.equal(await page.locator('#login-error[role="alert"]').count(), 1);
      await c('login-error');

      // Consent.
      await signIn(page);
      if (await page.locator('form [name="allow"]').count() !== 1) assert.fail(`no consent page:\n${await describePage(page, { server, consoleLines })}`);
      await c('consent');
      assert.equal(await page.locator('#remember').isChecked(), true, 'remember is offered to a reuse_consent client');
      await Promise.all([page.waitForURL((u) => u.href.startsWith(CALLBACK)), page.locator('form [name="allow"]').click()]);

      // Consent again with more asked: the new item is marked.
      await page.goto(authorizeURL(lang, { scope: 'openid profile email phone offline_access address' }));
      if (await page.locator('.new').count() < 1) assert.fail(`nothing marked new:\n${await describePage(page, { server, consoleLines })}`);
      await c('consent-new');

      // Device pages: enter (and a wrong code), consent.
      await page.goto(`${server.issuer}/device?ui_locales=${lang}`);
      await c('device-enter');
      await page.fill('#user_code', 'BBBB-BBBB');
      await Promise.all([page.waitForLoadState('load'), page.locator('form button[type="submit"]').click()]);
      assert.match(await page.getAttribute('#user_code', 'aria-describedby'), /user-code-error/);
      await c('device-error');
      const da = await (await fetch(`${server.issuer}/device_authorization`, {
        method: 'POST', body: new URLSearchParams({ client_id: tv.client_id, scope: 'openid profile' }),
      })).json();
      await page.goto(`${da.verification_uri_complete}&ui_locales=${lang}`);
      await Promise.all([page.waitForLoadState('load'), page.locator('form button[type="submit"]').click()]);
      if (await page.locator('form [name="allow"]').count() !== 1) assert.fail(`no device consent page:\n${await describePage(page, { server, consoleLines })}`);
      await c('device-consent');
      await Promise.all([page.waitForLoadState('load'), page.locator('form [name="allow"]').click()]);
      await c('device-done');

      // Sign-out confirmation (an end-session request without a hint),
      // then the server's own sign-out page and the signed-out page.
      await page.goto(`${server.issuer}/end-session?ui_locales=${lang}`);
      await c('end-session-confirm');
      await page.goto(`${server.issuer}/logout?ui_locales=${lang}`);
      await c('logout');
      await Promise.all([page.waitForLoadState('load'), page.locator('form button[type="submit"]').click()]);
      await c('signed-out');
    });
  }
}

// At 200% zoom (English: the layout does not depend on the language) every
// page still fits, without axe (the desktop and phone runs cover it).
test('every page at 200% zoom', { timeout: 600000 }, async (t) => {
  const { page, consoleLines } = await newPage(t, ZOOM200);
  for (const [name, url] of [
    ['login', authorizeURL('en')], ['device-enter', `${server.issuer}/device`], ['end-session-confirm', `${server.issuer}/end-session`],
    ['error', `${server.issuer}/authorize?client_id=nobody`],
  ]) {
    await page.goto(url);
    await screenshot(page, `pages-${name}-en-zoom200`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    if (overflow > 0) assert.fail(`${name} scrolls sideways by ${overflow}px at 200%\n${await describePage(page, { server, consoleLines })}`);
  }
  await page.goto(authorizeURL('en'));
  await signIn(page);
  await screenshot(page, 'pages-consent-en-zoom200');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, 'the consent page scrolls sideways at 200%');
  assert.equal(await page.locator('form [name="allow"]').count(), 1);
});

// The keyboard reaches the fields and the button in order, and the focus
// is visible (WCAG 2.4.3, 2.4.7).
test('focus order and visible focus on the login page', async (t) => {
  const { page } = await newPage(t, WIDTHS.desktop);
  await page.goto(`${server.issuer}/login`);
  await page.locator('body').focus();
  const order = [];
  for (let i = 0; i < 3; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => {
      const el = document.activeElement;
      const s = getComputedStyle(el);
      return `${el.id || el.tagName.toLowerCase()}:${s.outlineStyle}:${parseFloat(s.outlineWidth) >= 2}`;
    }));
  }
  // The login page autofocuses the username, so Tab goes on from it.
  assert.deepEqual(order.map((o) => o.split(':')[0]).filter((x) => x !== 'username').slice(0, 2), ['password', 'button']);
  for (const o of order) assert.match(o, /:solid:true$/, `focus not visible: ${o}`);
});

// The whole flow works with JavaScript off: login, consent, and the
// relying party gets its code.
test('sign-in and consent without JavaScript', async (t) => {
  const { page } = await newPage(t, WIDTHS.phone, { javaScriptEnabled: false });
  await page.goto(authorizeURL('pl'));
  await signIn(page);
  assert.equal(await page.getAttribute('html', 'lang'), 'pl');
  await Promise.all([page.waitForURL((u) => u.href.startsWith(CALLBACK)), page.locator('form [name="allow"]').click()]);
  const u = new URL(page.url());
  assert.ok(u.searchParams.get('code'), `no code at the callback: ${u}`);
  assert.equal(u.searchParams.get('state'), 'st');
});
