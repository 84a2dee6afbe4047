'use strict';

window.makeUserManager().signinRedirectCallback().then(() => {
  location.replace('codeflow.html');
}, (err) => {
  const s = document.getElementById('status');
  s.dataset.state = 'error';
  s.textContent = 'error: ' + err.message;
});
