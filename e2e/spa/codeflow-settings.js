// The oidc-client-ts UserManager both code-flow pages share.
'use strict';

window.makeUserManager = function () {
  const cfg = window.OIDCD_E2E;
  return new oidc.UserManager({
    authority: cfg.issuer,
    client_id: cfg.codeClientId,
    redirect_uri: location.origin + '/codeflow-callback.html',
    response_type: 'code',
    scope: 'openid profile email',
    loadUserInfo: true,
    automaticSilentRenew: false,
    userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
  });
};
