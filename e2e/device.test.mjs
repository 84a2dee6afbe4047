// The device authorization grant (RFC 8628) and DPoP (RFC 9449) against a
// real oidcd, with two
// client libraries no one here wrote: openid-client v6 and oauth4webapi v3
// play the device (a public client that polls), while headless Chromium
// plays the user on the verification pages: enter the code, sign in on
// oidcd's login page, consent naming the device's client, done page.
// Screenshots of every page go to artifacts/screenshots/device-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import {
  ALICE, startOidcd, launchChromium, newContext, recordConsole, describePage, screenshot,
} from './lib/oidcd.mjs';

let server;
let browser;
let tv; // a public client of the device grant only

before(async () => {
  const [srv, br] = await Promise.all([
    startOidcd({ extraEnv: {
      OIDCD_DEVICE_FLOW_ENABLE: 'true', OIDCD_DEVICE_POLL_INTERVAL: '1',
      // DPoP with server nonces: clients without DPoP are not affected.
      OIDCD_DPOP_ENABLE: 'true', OIDCD_DPOP_REQUIRE_NONCE: 'true',
    } }),
    launchChromium(),
  ]);
  server = srv;
  browser = br;
  await server.createUser(ALICE);
  tv = await server.createClient({
    name: 'Living Room TV', type: 'public', responseTypes: [], grantTypes: ['device_code', 'refresh_token'],
    scope: 'openid profile email offline_access',
  });
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  await server?.stop();
});

// user drives the verification pages in a fresh browser profile: open
// `url`, optionally type `typed` codes into the form (the last must be the
// right one), sign in, and answer the consent page. It returns the text of
// the final page.
async function user(t, url, { typed = [], answer = 'Allow', shots = null } = {}) {
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLines = recordConsole(page);
  const fail = async (msg) => assert.fail(`${msg}\n\n${await describePage(page, { server, consoleLines })}`);
  const shot = (name) => (shots ? screenshot(page, `${shots}-${name}`) : null);
  await page.goto(url);
  const field = page.locator('form input[name="user_code"]');
  if (await field.count() !== 1) await fail('the verification page has no user_code field');
  for (const [i, code] of typed.entries()) {
    await field.fill(code);
    if (i === typed.length - 1) await shot('enter');
    await Promise.all([page.waitForLoadState('load'), page.locator('form button[type="submit"]').click()]);
    await page.waitForLoadState('domcontentloaded');
    if (i < typed.length - 1) {
      const err = await page.locator('.error').textContent().catch(() => '');
      if (!/not valid/.test(err)) await fail(`a wrong code (${code}) was not refused`);
      await shot('wrong-code');
    }
  }
  if (typed.length === 0) {
    assert.match(await field.inputValue(), /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/, 'verification_uri_complete fills in the code');
    await shot('enter');
    await Promise.all([page.waitForURL(/\/login/, { timeout: 10000 }), page.locator('form button[type="submit"]').click()]);
  }
  // oidcd's login page.
  await page.waitForURL(/\/login/, { timeout: 10000 }).catch(() => fail('not sent to the login page'));
  const login = page.locator('form:has(input[name="password"])');
  await login.locator('input[name="username"]').fill(ALICE.username);
  await login.locator('input[name="password"]').fill(ALICE.password);
  await shot('login');
  await Promise.all([page.waitForURL(/\/device/, { timeout: 10000 }), login.locator('[type="submit"]').click()]);
  // The consent page names the device's client and shows the code.
  await page.waitForLoadState('domcontentloaded');
  const body = await page.locator('body').textContent();
  if (!body.includes('Living Room TV')) await fail('the consent page does not name the device\'s client');
  if (!/[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/.test(body)) await fail('the consent page does not show the code');
  await shot('consent');
  const button = page.locator(`form input[type="submit"][value="${answer}"]`);
  if (await button.count() !== 1) await fail(`no ${answer} button on the consent page`);
  await Promise.all([page.waitForLoadState('load'), button.click()]);
  await page.waitForLoadState('domcontentloaded');
  await shot('done');
  return page.locator('body').textContent();
}

test('openid-client: device grant with verification_uri_complete, then userinfo and refresh', async (t) => {
  const config = await client.discovery(new URL(server.issuer), tv.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  assert.equal(config.serverMetadata().device_authorization_endpoint, `${server.issuer}/device_authorization`);
  const da = await client.initiateDeviceAuthorization(config, { scope: 'openid profile email offline_access' });
  assert.match(da.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  assert.equal(da.verification_uri, `${server.issuer}/device`);
  const polling = client.pollDeviceAuthorizationGrant(config, da);
  const done = await user(t, da.verification_uri_complete, { shots: 'device' });
  assert.match(done, /Device connected/);
  const tokens = await polling;
  const claims = tokens.claims();
  assert.ok(claims.sub, 'an ID token with sub');
  assert.equal(claims.iss, server.issuer);
  assert.equal(claims.aud, tv.client_id);
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.name, ALICE.name);
  assert.equal(info.email, ALICE.email);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.notEqual(refreshed.access_token, tokens.access_token);
});

test('openid-client: a denied device authorization ends the polling with access_denied', async (t) => {
  const config = await client.discovery(new URL(server.issuer), tv.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const da = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
  // Settled into a value at once, so that the rejection (which may come
  // while the browser is still on the done page) is never unhandled.
  const polling = client.pollDeviceAuthorizationGrant(config, da).then(() => null, (err) => err);
  const done = await user(t, da.verification_uri_complete, { answer: 'Deny', shots: 'device-deny' });
  assert.match(done, /Device not connected/);
  const err = await polling;
  assert.ok(err, 'polling ended with tokens after a denial');
  assert.equal(err.error, 'access_denied', `polling ended with ${err.error}: ${err.message}`);
});

test('oauth4webapi: device grant with a typed code (a wrong one first), polling through authorization_pending', async (t) => {
  const issuer = new URL(server.issuer);
  const as = await oauth.processDiscoveryResponse(issuer,
    await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
  const c = { client_id: tv.client_id };
  const auth = oauth.None();
  const da = await oauth.processDeviceAuthorizationResponse(as, c,
    await oauth.deviceAuthorizationRequest(as, c, auth, { scope: 'openid email' }, { [oauth.allowInsecureRequests]: true }));
  assert.equal(da.interval, 1);
  let pending = 0;
  const poll = async () => {
    for (;;) {
      await new Promise((r) => setTimeout(r, da.interval * 1000 + 100));
      try {
        return await oauth.processDeviceCodeResponse(as, c,
          await oauth.deviceCodeGrantRequest(as, c, auth, da.device_code, { [oauth.allowInsecureRequests]: true }));
      } catch (err) {
        if (err instanceof oauth.ResponseBodyError && err.error === 'authorization_pending') { pending++; continue; }
        throw err;
      }
    }
  };
  const polling = poll();
  // Typed by hand on the plain verification_uri: lower case, no dash.
  const typed = da.user_code.toLowerCase().replace('-', '');
  const done = await user(t, da.verification_uri, { typed: ['BCDF-BCDF', typed], shots: 'device-typed' });
  assert.match(done, /Device connected/);
  const tokens = await polling;
  assert.ok(pending >= 1, 'the device saw authorization_pending while the user was busy');
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.id_token);
  // The device code is single use.
  await assert.rejects(
    oauth.processDeviceCodeResponse(as, c,
      await oauth.deviceCodeGrantRequest(as, c, auth, da.device_code, { [oauth.allowInsecureRequests]: true })),
    (err) => err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant',
  );
});

test('openid-client with DPoP: device grant, bound tokens (nonce retries by the library), userinfo, bound refresh', async (t) => {
  const config = await client.discovery(new URL(server.issuer), tv.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  assert.ok(config.serverMetadata().dpop_signing_alg_values_supported.includes('ES256'));
  const keyPair = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, keyPair);
  const da = await client.initiateDeviceAuthorization(config, { scope: 'openid email offline_access' });
  const polling = client.pollDeviceAuthorizationGrant(config, da, undefined, { DPoP }).then((v) => ({ v }), (e) => ({ e }));
  const done = await user(t, da.verification_uri_complete, { shots: 'device-dpop' });
  assert.match(done, /Device connected/);
  const { v: tokens, e } = await polling;
  assert.ifError(e);
  assert.equal(tokens.token_type.toLowerCase(), 'dpop', 'a DPoP-bound access token');
  const claims = tokens.claims();
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP });
  assert.equal(info.email, ALICE.email);
  // Stolen, the token is useless as a bearer token (RFC 9449 §7.2).
  const asBearer = await fetch(`${server.issuer}/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(asBearer.status, 401);
  // And with the DPoP scheme but no proof.
  const noProof = await fetch(`${server.issuer}/userinfo`, { headers: { authorization: `DPoP ${tokens.access_token}` } });
  assert.equal(noProof.status, 401);
  assert.match(noProof.headers.get('www-authenticate'), /^DPoP .*error="invalid_dpop_proof"/);
  // The public client's refresh token is bound to the key too.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  assert.equal(refreshed.token_type.toLowerCase(), 'dpop');
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token), (err) => {
    assert.equal(err.error, 'invalid_dpop_proof');
    return true;
  });
});

test('oauth4webapi with DPoP: device grant and userinfo, answering use_dpop_nonce by hand', async (t) => {
  const issuer = new URL(server.issuer);
  const insecure = { [oauth.allowInsecureRequests]: true };
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const c = { client_id: tv.client_id };
  const auth = oauth.None();
  const DPoP = oauth.DPoP(c, await oauth.generateKeyPair('ES256'));
  const da = await oauth.processDeviceAuthorizationResponse(as, c,
    await oauth.deviceAuthorizationRequest(as, c, auth, { scope: 'openid email' }, insecure));
  let nonceRetries = 0;
  const poll = async () => {
    for (;;) {
      try {
        return await oauth.processDeviceCodeResponse(as, c,
          await oauth.deviceCodeGrantRequest(as, c, auth, da.device_code, { DPoP, ...insecure }));
      } catch (err) {
        if (oauth.isDPoPNonceError(err)) { nonceRetries++; continue; } // the handle kept the nonce
        if (err instanceof oauth.ResponseBodyError && err.error === 'authorization_pending') {
          await new Promise((r) => setTimeout(r, da.interval * 1000 + 100));
          continue;
        }
        throw err;
      }
    }
  };
  const polling = poll().then((v) => ({ v }), (e) => ({ e }));
  const done = await user(t, da.verification_uri_complete, { shots: 'device-dpop-oauth4webapi' });
  assert.match(done, /Device connected/);
  const { v: tokens, e } = await polling;
  assert.ifError(e);
  assert.ok(nonceRetries >= 1, 'the server asked for a nonce');
  assert.equal(tokens.token_type, 'dpop');
  let info;
  for (let i = 0; ; i++) {
    try {
      info = await oauth.processUserInfoResponse(as, c, oauth.skipSubjectCheck,
        await oauth.userInfoRequest(as, c, tokens.access_token, { DPoP, ...insecure }));
      break;
    } catch (err) {
      if (i < 1 && oauth.isDPoPNonceError(err)) continue;
      throw err;
    }
  }
  assert.equal(info.email, ALICE.email);
});
