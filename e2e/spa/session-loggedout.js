'use strict';

// signoutRedirectCallback checks the state oidcd returned and gives back
// what signoutRedirect stored under it.
window.makeSessionManager().signoutRedirectCallback().then((resp) => {
  document.getElementById('state').textContent = resp.userState || '';
  const s = document.getElementById('status');
  s.dataset.state = 'done';
  s.textContent = 'Signed out.';
}, (err) => {
  const s = document.getElementById('status');
  s.dataset.state = 'error';
  s.textContent = 'error: ' + err.message;
});
