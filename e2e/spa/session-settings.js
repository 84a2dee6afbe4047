// The oidc-client-ts UserManager of the session-monitoring app: it embeds
// oidcd's check_session_iframe (monitorSession) and signs out with
// signoutRedirect to its post-logout page.
'use strict';

window.makeSessionManager = function () {
  const cfg = window.OIDCD_E2E;
  return new oidc.UserManager({
    authority: cfg.issuer,
    client_id: cfg.sessionClientId,
    redirect_uri: location.origin + '/session-callback.html',
    silent_redirect_uri: location.origin + '/session-silent.html',
    post_logout_redirect_uri: location.origin + '/session-loggedout.html',
    response_type: 'code',
    scope: 'openid profile',
    loadUserInfo: false,
    automaticSilentRenew: false,
    monitorSession: true,
    checkSessionIntervalInSeconds: 1,
    userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
  });
};
