'use strict';

(function () {
  const mgr = window.makeUserManager();
  const el = (id) => document.getElementById(id);
  function setStatus(state, text) {
    el('status').dataset.state = state;
    el('status').textContent = text;
  }

  el('login').addEventListener('click', () => {
    mgr.signinRedirect().catch((err) => setStatus('error', 'error: ' + err.message));
  });

  mgr.getUser().then((user) => {
    if (!user) return;
    el('name').textContent = user.profile.name || '';
    el('email').textContent = user.profile.email || '';
    el('sub').textContent = user.profile.sub;
    el('user').hidden = false;
    setStatus('done', 'Signed in.');
  }, (err) => setStatus('error', 'error: ' + err.message));
})();
