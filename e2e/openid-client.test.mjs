// The certified openid-client (v6) library as a confidential relying party
// of a real oidcd: code flow with PKCE, hybrid "code id_token", and
// response_mode=form_post. Chromium plays the user agent (login, consent);
// the RP's redirect_uri is a local node:http server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as client from 'openid-client';
import {
  ALICE, startOidcd, freePort, launchChromium, newContext, authorize, recordConsole, describePage, screenshot,
} from './lib/oidcd.mjs';

let server;
let browser;
let rp; // the RP's callback server
let clients;

// startCallbackServer is the relying party's redirect_uri endpoint. It
// records every request (method, URL, form body) and answers a small page.
async function startCallbackServer(port) {
  const waiting = [];
  const received = [];
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const hit = {
        method: req.method,
        url: new URL(req.url, `http://127.0.0.1:${port}`),
        contentType: req.headers['content-type'] || '',
        body: Buffer.concat(chunks).toString(),
      };
      if (hit.url.pathname !== '/favicon.ico') {
        const w = waiting.shift();
        if (w) w(hit); else received.push(hit);
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end('<!doctype html><title>RP callback</title><h1>Relying party callback</h1><p id="got">received</p>');
    });
  });
  await new Promise((resolve, reject) => { srv.once('error', reject); srv.listen(port, '127.0.0.1', resolve); });
  return {
    origin: `http://127.0.0.1:${port}`,
    redirectUri: `http://127.0.0.1:${port}/cb`,
    // next is the next request the callback receives.
    next(timeout = 10000) {
      if (received.length) return Promise.resolve(received.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the RP callback received no request')), timeout);
        waiting.push((hit) => { clearTimeout(timer); resolve(hit); });
      });
    },
    close: () => new Promise((resolve) => { srv.closeAllConnections?.(); srv.close(() => resolve()); }),
  };
}

before(async () => {
  const [srv, port, br] = await Promise.all([startOidcd(), freePort(), launchChromium()]);
  server = srv;
  browser = br;
  rp = await startCallbackServer(port);
  await server.createUser(ALICE);
  const common = { type: 'confidential', responseTypes: ['code', 'code id_token'], redirectUris: [rp.redirectUri] };
  clients = {
    // No consent page: confidential clients skip it by default.
    plain: await server.createClient({ name: 'openid-client RP', ...common }),
    // The same, but asking for consent every time.
    consent: await server.createClient({ name: 'openid-client RP (consent)', ...common, requireConsent: true }),
  };
}, { timeout: 90000 });

after(async () => {
  await browser?.close();
  await rp?.close();
  await server?.stop();
});

// configFor discovers oidcd for one client. The issuer is http on
// loopback, hence allowInsecureRequests.
async function configFor(c, { hybrid = false, auth } = {}) {
  const execute = [client.allowInsecureRequests];
  if (hybrid) execute.push(client.useCodeIdTokenResponseType);
  return client.discovery(new URL(server.issuer), c.client_id, c.client_secret, auth, { execute });
}

// userAgent opens authUrl in a fresh Chromium profile, signs in, consents
// when asked, and returns what reached the RP: `url` (the browser's URL,
// with a fragment if there is one) and `hit` (the request the callback
// server got, with its form body for form_post).
async function userAgent(t, authUrl, { shots } = {}) {
  const context = await newContext(browser);
  t.after(() => context.close());
  const page = await context.newPage();
  const consoleLines = recordConsole(page);
  await page.goto(authUrl.href);
  const seen = await authorize(page, {
    server, consoleLines, shots, done: (u) => u.origin === rp.origin,
  });
  let hit;
  try {
    hit = await rp.next();
  } catch (err) {
    assert.fail(`${err.message}\n\n${await describePage(page, { server, consoleLines })}`);
  }
  await page.waitForLoadState('domcontentloaded');
  return { page, context, seen, url: new URL(page.url()), hit, consoleLines };
}

// formPostRequest rebuilds the browser's form_post as a fetch Request, the
// shape openid-client takes for response_mode=form_post.
function formPostRequest(hit) {
  assert.equal(hit.method, 'POST', 'form_post delivers the response with POST');
  assert.match(hit.contentType, /^application\/x-www-form-urlencoded/);
  return new Request(hit.url.href, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: hit.body,
  });
}

// errorAbout matches an openid-client error whose message or cause names
// `what` (the library wraps oauth4webapi's detailed error in `cause`).
function errorAbout(what) {
  return (err) => {
    const text = [err.message, err.cause?.message, err.cause?.claim].filter(Boolean).join(' | ');
    assert.ok(text.includes(what), `expected an error about ${what}, got: ${text}`);
    return true;
  };
}

function decodeJwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

// checkTokens asserts the ID token, UserInfo and a refresh, with the
// library doing the validation.
async function checkTokens(config, tokens, { nonce }) {
  const claims = tokens.claims();
  assert.ok(claims, 'the token response has an ID token');
  assert.equal(claims.iss, server.issuer);
  const clientId = config.clientMetadata().client_id;
  assert.ok([claims.aud].flat().includes(clientId), `aud ${JSON.stringify(claims.aud)} contains the client_id`);
  assert.equal(claims.nonce, nonce);
  assert.equal(typeof claims.sub, 'string');
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.access_token, 'access_token issued');
  assert.ok(tokens.refresh_token, 'refresh_token issued with the code grant');
  assert.ok(tokens.expiresIn() > 0, 'expires_in is positive');

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.sub, claims.sub);
  assert.equal(info.name, ALICE.name);
  assert.equal(info.given_name, ALICE.givenName);
  assert.equal(info.family_name, ALICE.familyName);
  assert.equal(info.email, ALICE.email);
  assert.equal(info.email_verified, true);

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token, 'refresh gives a new access token');
  assert.notEqual(refreshed.access_token, tokens.access_token);
  const rclaims = refreshed.claims();
  if (rclaims) assert.equal(rclaims.sub, claims.sub, 'a refreshed ID token has the same sub');
  const info2 = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  assert.equal(info2.name, ALICE.name);
  return claims;
}

// startAuthorization builds an authorization URL with fresh PKCE, state and
// nonce, and returns it with the checks authorizationCodeGrant needs.
async function startAuthorization(config, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: rp.redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { authUrl, state, nonce, checks: { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce } };
}

test('code flow with PKCE, state and nonce (client_secret_basic)', async (t) => {
  const config = await configFor(clients.plain, { auth: client.ClientSecretBasic(clients.plain.client_secret) });
  const { authUrl, state, nonce, checks } = await startAuthorization(config);
  const { url, hit, page, context } = await userAgent(t, authUrl);
  assert.equal(hit.method, 'GET');
  assert.equal(url.searchParams.get('iss'), server.issuer, 'RFC 9207 iss in the response');
  await screenshot(page, 'openid-client-code-callback');

  const tokens = await client.authorizationCodeGrant(config, url, checks);
  const claims = await checkTokens(config, tokens, { nonce });

  // The same browser is still signed in: prompt=none answers at once.
  const second = await startAuthorization(config, { prompt: 'none' });
  const page2 = await context.newPage();
  await page2.goto(second.authUrl.href);
  await rp.next();
  const tokens2 = await client.authorizationCodeGrant(config, new URL(page2.url()), second.checks);
  assert.equal(tokens2.claims().sub, claims.sub, 'single sign-on: same user without a login page');

  // A code is good once (RFC 6749 §4.1.2).
  await assert.rejects(
    client.authorizationCodeGrant(config, url, checks),
    (err) => err.error === 'invalid_grant' || /invalid_grant/.test(String(err.cause?.error ?? err.message)),
    'replaying the code is refused with invalid_grant',
  );
});

test('hybrid flow "code id_token": the library validates the front-channel ID token and c_hash', async (t) => {
  const config = await configFor(clients.plain, { hybrid: true });
  const { authUrl, state, nonce, checks } = await startAuthorization(config);
  assert.equal(authUrl.searchParams.get('response_type'), 'code id_token');
  const { url, hit } = await userAgent(t, authUrl);
  assert.equal(hit.method, 'GET');
  assert.equal(hit.url.search, '', 'hybrid responses travel in the fragment, not the query');
  const fragment = new URLSearchParams(url.hash.slice(1));
  assert.ok(fragment.get('code'), 'fragment has code');
  assert.ok(fragment.get('id_token'), 'fragment has id_token');
  const front = decodeJwtPayload(fragment.get('id_token'));
  assert.equal(typeof front.c_hash, 'string', 'front-channel ID token has c_hash');
  assert.equal(front.nonce, nonce);

  // The library checks c_hash: a different code is refused before any
  // token request is made.
  const tampered = new URL(url);
  const tf = new URLSearchParams(tampered.hash.slice(1));
  tf.set('code', fragment.get('code').slice(0, -2) + (fragment.get('code').endsWith('AA') ? 'BB' : 'AA'));
  tampered.hash = tf.toString();
  await assert.rejects(
    client.authorizationCodeGrant(config, tampered, checks),
    errorAbout('c_hash'),
  );
  // And the nonce.
  await assert.rejects(
    client.authorizationCodeGrant(config, url, { ...checks, expectedNonce: 'wrong-nonce' }),
    errorAbout('nonce'),
  );

  const tokens = await client.authorizationCodeGrant(config, url, checks);
  const claims = await checkTokens(config, tokens, { nonce });
  assert.equal(claims.sub, front.sub, 'front- and back-channel ID tokens name the same user');
});

test('response_mode=form_post, code flow (with the consent page)', async (t) => {
  const config = await configFor(clients.consent);
  const { authUrl, state, nonce, checks } = await startAuthorization(config, { response_mode: 'form_post' });
  const { hit, seen } = await userAgent(t, authUrl);
  assert.ok(seen.consent, 'the client has --require-consent');
  const body = new URLSearchParams(hit.body);
  assert.equal(hit.url.search, '', 'nothing in the query with form_post');
  assert.equal(body.get('state'), state);
  assert.equal(body.get('iss'), server.issuer, 'RFC 9207 iss in the response');
  const tokens = await client.authorizationCodeGrant(config, formPostRequest(hit), checks);
  await checkTokens(config, tokens, { nonce });
});

test('response_mode=form_post, hybrid "code id_token" (no consent page)', async (t) => {
  const config = await configFor(clients.plain, { hybrid: true });
  const { authUrl, state, nonce, checks } = await startAuthorization(config, { response_mode: 'form_post' });
  const { hit, seen } = await userAgent(t, authUrl);
  assert.equal(seen.consent, false, 'confidential clients skip consent by default');
  const body = new URLSearchParams(hit.body);
  assert.ok(body.get('code') && body.get('id_token'), 'form body has code and id_token');
  const tokens = await client.authorizationCodeGrant(config, formPostRequest(hit), checks);
  await checkTokens(config, tokens, { nonce });
});
