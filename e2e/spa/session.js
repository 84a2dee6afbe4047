'use strict';

(function () {
  const cfg = window.OIDCD_E2E;
  const mgr = window.makeSessionManager();
  const el = (id) => document.getElementById(id);
  function set(id, state, text) {
    el(id).dataset.state = state;
    el(id).textContent = text;
  }

  el('login').addEventListener('click', () => {
    mgr.signinRedirect().catch((err) => set('status', 'error', 'error: ' + err.message));
  });
  el('logout').addEventListener('click', () => {
    mgr.signoutRedirect({ state: 'rp-state-' + cfg.logoutState }).catch((err) => set('status', 'error', 'error: ' + err.message));
  });

  // What the check_session_iframe (embedded by oidc-client-ts) answers the
  // library: watched here too, so the test sees "changed" itself.
  window.addEventListener('message', (e) => {
    if (e.origin !== cfg.issuer || typeof e.data !== 'string') return;
    if (e.data === 'unchanged' && el('monitor').dataset.state === 'idle') set('monitor', 'unchanged', 'unchanged');
    if (e.data === 'changed') set('monitor', 'changed', 'changed');
    if (e.data === 'error') set('monitor', 'error', 'error');
  });
  mgr.events.addUserSignedOut(() => set('status', 'signed-out', 'Signed out at the provider.'));

  mgr.getUser().then((user) => {
    if (!user) return;
    el('session-state').textContent = user.session_state || '';
    set('status', 'done', 'Signed in as ' + (user.profile.name || user.profile.sub) + '.');
  }, (err) => set('status', 'error', 'error: ' + err.message));
})();
