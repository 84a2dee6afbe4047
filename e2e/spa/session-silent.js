'use strict';

// The prompt=none answer oidc-client-ts asks for when the session changed.
window.makeSessionManager().signinSilentCallback().catch(() => {});
