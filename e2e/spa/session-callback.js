'use strict';

window.makeSessionManager().signinRedirectCallback().then(() => {
  location.replace('session.html');
}, (err) => {
  const s = document.getElementById('status');
  s.dataset.state = 'error';
  s.textContent = 'error: ' + err.message;
});
