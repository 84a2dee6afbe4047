// The web console in Chromium against a real oidcd: an admin registers a
// client in /admin, a relying party (openid-client) signs a user in with
// it, the user revokes it on /account and the relying party's refresh
// fails; an admin rotates the signing key and the relying party verifies
// tokens on both sides of the rotation. console-pages.test.mjs shoots and
// checks every page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as client from 'openid-client';
import * as jose from 'jose';
import { ALICE, startOidcd, freePort, launchChromium, authorize, describePage } from './lib/oidcd.mjs';
import { ADMIN, signedInPage as openSignedIn } from './lib/console.mjs';

let server;
let browser;
let rpOrigin;
let rpServer; // the relying party's redirect_uri: a plain page
let admin; // the admin's page, signed in
let rpClient; // { client_id, client_secret } registered in the admin

before(async () => {
  const [srv, port, br] = await Promise.all([
    // Keys activate key_refresh + jwks_max_age after a rotation: 3 s here.
    startOidcd({ extraEnv: { OIDCD_KEY_REFRESH: '1', OIDCD_JWKS_MAX_AGE: '2' } }),
    freePort(), launchChromium(),
  ]);
  server = srv;
  browser = br;
  rpOrigin = `http://127.0.0.1:${port}`;
  rpServer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>RP</title><h1>Relying party</h1>');
  });
  await new Promise((resolve, reject) => { rpServer.once('error', reject); rpServer.listen(port, '127.0.0.1', resolve); });
  await server.createUser(ALICE);
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  rpServer?.closeAllConnections?.();
  await new Promise((resolve) => (rpServer ? rpServer.close(() => resolve()) : resolve()));
  await server?.stop();
});

const signedInPage = (t, pathname, user) => openSignedIn(t, browser, server, pathname, user);

async function rpConfig() {
  return client.discovery(new URL(server.issuer), rpClient.client_id, rpClient.client_secret, undefined,
    { execute: [client.allowInsecureRequests] });
}

// rpSignIn runs the code flow for ALICE in page's browser: the code the
// RP's callback page receives is exchanged by openid-client, which validates the ID token (signature by the JWKS,
// iss, aud, nonce).
async function rpSignIn(page, config) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: `${rpOrigin}/cb`, scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce,
  });
  await page.goto(authUrl.href);
  await authorize(page, { server, consoleLines: page.consoleLines, done: (u) => u.origin === rpOrigin });
  return client.authorizationCodeGrant(config, new URL(page.url()), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce,
  });
}

function kidOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString()).kid;
}

test('an admin registers a client; a relying party signs in with it; the user revokes it on /account and the refresh fails', async (t) => {
  admin = await signedInPage(null, '/admin/', ADMIN);

  await admin.click('a[href="/admin/clients"]');
  await admin.click('text=Register a new client');
  assert.equal(new URL(admin.url()).pathname, '/admin/clients/new');
  await admin.fill('#client_name', 'Console RP');
  await admin.fill('#redirect_uris', `${rpOrigin}/cb`);
  await admin.fill('#scope', 'openid profile email');
  assert.ok(await admin.isChecked('input[name="response_types"][value="code"]'), 'code is the default response type');
  assert.ok(await admin.isChecked('input[name="require_consent"]'), 'consent is asked by default');
  await Promise.all([admin.waitForURL((u) => u.pathname === '/admin/clients/new'), admin.click('button:has-text("Register the client")')]);
  const secret = (await admin.textContent('#client_secret'))?.trim();
  const id = (await admin.textContent('dl.props dd code'))?.trim();
  assert.ok(id && secret, `the new client's page shows its id and secret:\n${await describePage(admin, { server })}`);
  rpClient = { client_id: id, client_secret: secret };

  const config = await rpConfig();
  const user = await signedInPage(t, '/account', ALICE);
  const tokens = await rpSignIn(user, config);
  assert.equal(tokens.claims().sub.length > 0, true);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token, 'the refresh works before the revocation');

  await user.goto(`${server.issuer}/account`);
  const revoke = user.locator('button[aria-label="Revoke access of Console RP"]');
  assert.equal(await revoke.count(), 1, `the account page lists the client:\n${await describePage(user, { server })}`);
  await Promise.all([user.waitForURL((u) => u.searchParams.get('done') === 'revoked'), revoke.click()]);
  assert.match(await user.textContent('[role="status"]'), /Access revoked/);
  assert.equal(await revoke.count(), 0, 'the client is gone from the account page');

  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (err) => {
    assert.equal(err.error, 'invalid_grant', `the refresh after the revocation: ${err.message}`);
    return true;
  });
});

test('an admin rotates the signing key; the relying party verifies tokens across the rotation', async (t) => {
  const config = await rpConfig();
  const user = await signedInPage(t, '/account', ALICE);
  const before = await rpSignIn(user, config);
  const oldKid = kidOf(before.id_token);

  await admin.goto(`${server.issuer}/admin/keys`);
  await admin.selectOption('#rotate_alg', 'RS256');
  await Promise.all([admin.waitForURL((u) => u.searchParams.get('done') === 'key-created'), admin.click('button:has-text("Rotate")')]);
  const states = await admin.locator('td[data-label="State"]').allTextContents();
  assert.ok(states.includes('next'), `the rotated-in key is next: ${states}`);

  // The new key activates after key_refresh + jwks_max_age (3 s).
  const deadline = Date.now() + 15000;
  let after;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    after = await rpSignIn(user, config);
    if (kidOf(after.id_token) !== oldKid || Date.now() > deadline) break;
  }
  assert.notEqual(kidOf(after.id_token), oldKid, 'ID tokens are signed by the new key after the rotation');
  // A refresh of the grant from before the rotation: openid-client
  // validates the new ID token.
  const refreshed = await client.refreshTokenGrant(config, before.refresh_token);
  assert.equal(refreshed.claims().sub, before.claims().sub);
  // The ID token from before still verifies: the retired key stays published.
  const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri));
  await jose.jwtVerify(before.id_token, jwks, { issuer: server.issuer, audience: rpClient.client_id });
  await jose.jwtVerify(after.id_token, jwks, { issuer: server.issuer, audience: rpClient.client_id });

  await admin.reload();
  const after2 = await admin.locator('td[data-label="State"]').allTextContents();
  assert.ok(after2.includes('retired') && after2.includes('active'), `after the rotation: ${after2}`);
});
