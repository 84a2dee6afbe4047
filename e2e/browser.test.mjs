// Headless Chromium runs two single-page apps against a real oidcd: a
// library-free implicit-flow client and an oidc-client-ts code-flow client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALICE, startOidcd, freePort, launchChromium, newContext, authorize, screenshot, recordConsole, describePage,
} from './lib/oidcd.mjs';
import { startStaticServer } from './lib/static.mjs';

let server;
let spa;
let browser;
let clients;

before(async () => {
  const [srv, spaPort, br] = await Promise.all([startOidcd(), freePort(), launchChromium()]);
  server = srv;
  browser = br;
  const origin = `http://127.0.0.1:${spaPort}`;
  await server.createUser(ALICE);
  clients = {
    // Implicit: a public client; consent forced so the test sees the page.
    implicit: await server.createClient({
      name: 'Pure JS Implicit SPA', type: 'public', responseTypes: ['id_token token'],
      redirectUris: [`${origin}/implicit.html`], requireConsent: true,
    }),
    // Code + PKCE: a public client, which always gets the consent page.
    code: await server.createClient({
      name: 'oidc-client-ts SPA', type: 'public', responseTypes: ['code'],
      redirectUris: [`${origin}/codeflow-callback.html`],
    }),
  };
  spa = await startStaticServer({
    port: spaPort,
    issuer: server.issuer,
    config: { issuer: server.issuer, implicitClientId: clients.implicit.client_id, codeClientId: clients.code.client_id },
  });
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  await spa?.close();
  await server?.stop();
});

// signIn opens page `path` of the SPA in a fresh browser context, clicks
// Login, goes through oidcd's login and consent pages, and waits for the
// app to report a result in #status. It returns the page and what it saw.
async function signIn(t, path, { shots, decline = false } = {}) {
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLines = recordConsole(page);
  const fail = async (msg) => assert.fail(`${msg}\n\n${await describePage(page, { server, consoleLines })}`);

  await page.goto(`${spa.origin}/${path}`);
  await page.click('#login');
  await page.waitForURL((u) => u.origin === server.issuer, { waitUntil: 'commit' })
    .catch(() => fail('clicking Login did not navigate to oidcd'));

  const seen = await authorize(page, {
    server, consoleLines, shots,
    consent: decline ? 'decline' : 'allow',
    done: (u) => u.origin === spa.origin,
  });

  const status = page.locator('#status[data-state="done"], #status[data-state="error"]');
  await status.waitFor({ timeout: 10000 }).catch(() => fail('the app did not finish processing the response'));
  return { page, seen, consoleLines, fail };
}

test('pure JS implicit client (id_token token) signs in and shows the name from UserInfo', async (t) => {
  const { page, seen, fail } = await signIn(t, 'implicit.html', {
    shots: { login: 'oidcd-login', consent: 'oidcd-consent' },
  });
  assert.ok(seen.login, 'the oidcd login page was shown');
  assert.ok(seen.consent, 'the consent page was shown (client has --require-consent)');
  if (await page.getAttribute('#status', 'data-state') !== 'done') {
    await fail(`the implicit client rejected the response: ${await page.textContent('#status')}`);
  }
  assert.equal(await page.textContent('#name'), ALICE.name);
  assert.equal(await page.textContent('#email'), ALICE.email);
  assert.equal(new URL(page.url()).hash, '', 'the app removed the tokens from the address bar');
  await screenshot(page, 'spa-implicit');
});

test('pure JS implicit client gets access_denied when the user declines consent', async (t) => {
  const { page, seen } = await signIn(t, 'implicit.html', { decline: true });
  assert.ok(seen.declined, 'the Decline button was clicked');
  assert.equal(await page.getAttribute('#status', 'data-state'), 'error');
  assert.match(await page.textContent('#status'), /access_denied/);
  await screenshot(page, 'spa-implicit-declined');
});

test('oidc-client-ts code flow + PKCE (public client) signs in and shows profile.name', async (t) => {
  const { page, seen, fail } = await signIn(t, 'codeflow.html');
  assert.ok(seen.login, 'the oidcd login page was shown');
  assert.ok(seen.consent, 'public clients using code always get the consent page');
  if (await page.getAttribute('#status', 'data-state') !== 'done') {
    await fail(`oidc-client-ts rejected the response: ${await page.textContent('#status')}`);
  }
  assert.equal(new URL(page.url()).pathname, '/codeflow.html');
  assert.equal(await page.textContent('#name'), ALICE.name);
  assert.equal(await page.textContent('#email'), ALICE.email);
  await screenshot(page, 'spa-codeflow');
});
