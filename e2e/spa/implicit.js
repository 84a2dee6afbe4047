// Pure JS relying party for the OpenID Connect Implicit Flow
// (response_type "id_token token"), written without any OIDC library.
'use strict';

(function () {
  const cfg = window.OIDCD_E2E;
  const clientId = cfg.implicitClientId;
  const redirectUri = location.origin + location.pathname;
  const el = (id) => document.getElementById(id);

  function setStatus(state, text) {
    const s = el('status');
    s.dataset.state = state;
    s.textContent = text;
  }

  function b64url(bytes) {
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function b64urlToBytes(s) {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  function randomString() {
    return b64url(crypto.getRandomValues(new Uint8Array(32)));
  }

  async function discover() {
    const res = await fetch(cfg.issuer + '/.well-known/openid-configuration');
    if (!res.ok) throw new Error('discovery failed: HTTP ' + res.status);
    const meta = await res.json();
    if (meta.issuer !== cfg.issuer) throw new Error('discovery issuer mismatch: ' + meta.issuer);
    return meta;
  }

  async function login() {
    const meta = await discover();
    const state = randomString();
    const nonce = randomString();
    sessionStorage.setItem('implicit.state', state);
    sessionStorage.setItem('implicit.nonce', nonce);
    const url = new URL(meta.authorization_endpoint);
    url.search = new URLSearchParams({
      client_id: clientId,
      redirect_uri: redirectUri,
      response_type: 'id_token token',
      scope: 'openid profile email',
      state: state,
      nonce: nonce,
    }).toString();
    location.assign(url.toString());
  }

  // verifySignature checks the ID token's RS256 signature against the OP's JWKS.
  async function verifySignature(meta, idToken, header) {
    if (header.alg !== 'RS256') throw new Error('unexpected ID token alg ' + header.alg);
    const res = await fetch(meta.jwks_uri);
    if (!res.ok) throw new Error('jwks failed: HTTP ' + res.status);
    const { keys } = await res.json();
    const jwk = keys.find((k) => k.kid === header.kid && k.kty === 'RSA');
    if (!jwk) throw new Error('no RSA key with kid ' + header.kid + ' in the JWKS');
    const key = await crypto.subtle.importKey('jwk', { kty: 'RSA', n: jwk.n, e: jwk.e, alg: 'RS256', ext: true },
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
    const [h, p, sig] = idToken.split('.');
    const ok = await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, b64urlToBytes(sig), new TextEncoder().encode(h + '.' + p));
    if (!ok) throw new Error('ID token signature does not verify');
  }

  async function atHash(accessToken) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken)));
    return b64url(digest.slice(0, digest.length / 2));
  }

  async function callback(params) {
    // Forget the response in the address bar, and the one-time values.
    history.replaceState(null, '', redirectUri);
    const expectedState = sessionStorage.getItem('implicit.state');
    const expectedNonce = sessionStorage.getItem('implicit.nonce');
    sessionStorage.removeItem('implicit.state');
    sessionStorage.removeItem('implicit.nonce');

    if (!expectedState || params.get('state') !== expectedState) throw new Error('state mismatch');
    if (params.has('error')) {
      throw new Error(params.get('error') + (params.has('error_description') ? ': ' + params.get('error_description') : ''));
    }
    const meta = await discover();
    // RFC 9207: the OP says it sends iss, so it must be ours.
    if (meta.authorization_response_iss_parameter_supported && params.get('iss') !== cfg.issuer) {
      throw new Error('iss response parameter mismatch: ' + params.get('iss'));
    }
    const idToken = params.get('id_token');
    const accessToken = params.get('access_token');
    if (!idToken || !accessToken) throw new Error('response lacks id_token or access_token');
    if ((params.get('token_type') || '').toLowerCase() !== 'bearer') throw new Error('token_type is not Bearer');

    const [h, p] = idToken.split('.');
    const header = JSON.parse(new TextDecoder().decode(b64urlToBytes(h)));
    const claims = JSON.parse(new TextDecoder().decode(b64urlToBytes(p)));
    await verifySignature(meta, idToken, header);
    if (claims.iss !== cfg.issuer) throw new Error('ID token iss mismatch: ' + claims.iss);
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(clientId)) throw new Error('ID token aud does not contain our client_id');
    if (!(claims.exp > Date.now() / 1000)) throw new Error('ID token expired');
    if (claims.nonce !== expectedNonce) throw new Error('nonce mismatch');
    if (claims.at_hash !== await atHash(accessToken)) throw new Error('at_hash mismatch');

    const res = await fetch(meta.userinfo_endpoint, { headers: { Authorization: 'Bearer ' + accessToken } });
    if (!res.ok) throw new Error('userinfo failed: HTTP ' + res.status + ' ' + (res.headers.get('WWW-Authenticate') || ''));
    const info = await res.json();
    if (info.sub !== claims.sub) throw new Error('userinfo sub differs from the ID token sub');
    return info;
  }

  el('login').addEventListener('click', () => {
    login().catch((err) => setStatus('error', 'error: ' + err.message));
  });

  if (location.hash.length > 1) {
    const params = new URLSearchParams(location.hash.slice(1));
    setStatus('working', 'Checking the response…');
    callback(params).then((info) => {
      el('name').textContent = info.name || '';
      el('email').textContent = info.email || '';
      el('sub').textContent = info.sub;
      el('user').hidden = false;
      setStatus('done', 'Signed in.');
    }, (err) => setStatus('error', 'error: ' + err.message));
  }
})();
