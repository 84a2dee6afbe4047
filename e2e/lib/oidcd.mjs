// Shared helpers for the end-to-end tests: build and run a real oidcd,
// drive its CLI, and drive its login and consent pages from Playwright.
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(E2E_DIR, '..');
export const SCREENSHOT_DIR = path.join(REPO_ROOT, 'artifacts', 'screenshots');

export const ALICE = {
  username: 'alice',
  password: 'correct horse battery staple',
  name: 'Alice Liddell',
  givenName: 'Alice',
  familyName: 'Liddell',
  email: 'alice@example.com',
};

// Everything started here is killed when the process exits, even when a
// test fails or throws before its cleanup runs.
const children = new Set();
const tempDirs = new Set();
function cleanupSync() {
  for (const c of children) {
    try { c.kill('SIGKILL'); } catch { /* already gone */ }
  }
  children.clear();
  for (const d of tempDirs) {
    try { rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
  tempDirs.clear();
}
process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { cleanupSync(); process.exit(130); });
}

function tempDir(prefix) {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

let binaryPromise;

// oidcdBinary returns the path of an oidcd binary built from this tree. The
// test runner (run.mjs) builds it once per run and passes OIDCD_E2E_BIN; a
// test file run on its own builds its own copy into a temp dir.
export function oidcdBinary() {
  if (process.env.OIDCD_E2E_BIN) return Promise.resolve(process.env.OIDCD_E2E_BIN);
  binaryPromise ??= buildOidcd(path.join(tempDir('oidcd-e2e-bin-'), 'oidcd'));
  return binaryPromise;
}

export async function buildOidcd(out) {
  const started = Date.now();
  try {
    await execFileP('go', ['build', '-o', out, './cmd/oidcd'], {
      cwd: REPO_ROOT, maxBuffer: 16 << 20, env: process.env, timeout: 150000, killSignal: 'SIGKILL',
    });
  } catch (err) {
    throw new Error(`go build ./cmd/oidcd failed:\n${err.stderr || err.message}`);
  }
  if (process.env.E2E_VERBOSE) console.error(`built ${out} in ${Date.now() - started} ms`);
  return out;
}

// freePort asks the kernel for an unused loopback port.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// OidcdServer is one running `oidcd serve` on a fresh SQLite database.
// startCallbackPage serves a plain page on a loopback port that stands for a
// relying party's redirect URI: { origin, redirectUri, close }.
export async function startCallbackPage() {
  const port = await freePort();
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>RP</title><p>callback</p>');
  });
  await new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${port}`, redirectUri: `http://127.0.0.1:${port}/cb`, close: () => new Promise((r) => srv.close(r)) };
}

export class OidcdServer {
  constructor({ bin, dir, port, env, extraEnv }) {
    this.bin = bin;
    this.dir = dir;
    this.port = port;
    this.issuer = `http://127.0.0.1:${port}`;
    this.database = `sqlite:${path.join(dir, 'oidcd.db')}`;
    this.env = env;
    this.extraEnv = extraEnv;
    this.output = [];
    this.proc = null;
  }

  // logTail is the last lines the server wrote, for failure messages.
  logTail(lines = 40) {
    const all = this.output.join('').split('\n');
    return all.slice(-lines).join('\n');
  }

  async start() {
    const env = {
      ...this.env,
      OIDCD_ADDR: `127.0.0.1:${this.port}`,
      OIDCD_ISSUER: this.issuer,
      OIDCD_DATABASE: this.database,
      OIDCD_ADMIN_PASSWORD: 'e2e-admin-password-not-secret',
      ...this.extraEnv,
    };
    const proc = spawn(this.bin, ['serve'], { cwd: this.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    children.add(proc);
    const exited = new Promise((resolve) => proc.once('exit', (code, sig) => resolve({ code, sig })));
    this.exited = exited;
    proc.stdout.on('data', (b) => this.output.push(b.toString()));
    proc.stderr.on('data', (b) => this.output.push(b.toString()));
    proc.once('exit', () => children.delete(proc));

    const deadline = Date.now() + 15000;
    const discovery = `${this.issuer}/.well-known/openid-configuration`;
    let lastErr;
    while (Date.now() < deadline) {
      const status = await Promise.race([exited, sleep(0).then(() => null)]);
      if (status) {
        throw new Error(`oidcd serve exited early (code ${status.code}, signal ${status.sig}):\n${this.logTail()}`);
      }
      try {
        // Ready as a deployment sees it: on a first start the signing key
        // and the admin account are made while discovery already answers.
        const ready = await fetch(`${this.issuer}/readyz`);
        const res = ready.ok ? await fetch(discovery) : ready;
        if (res.ok) {
          this.metadata = await res.json();
          return this;
        }
        lastErr = new Error(`HTTP ${res.status}`);
      } catch (err) {
        lastErr = err;
      }
      await sleep(50);
    }
    throw new Error(`oidcd was not ready (/readyz, ${discovery}) within 15s (${lastErr?.message}):\n${this.logTail()}`);
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const done = await Promise.race([this.exited, sleep(5000).then(() => null)]);
    if (!done) this.proc.kill('SIGKILL');
  }

  // cli runs `oidcd ARGS... --database DB` and returns its stdout.
  async cli(...args) {
    try {
      const { stdout } = await execFileP(this.bin, [...args, '--database', this.database], {
        cwd: this.dir, env: this.env, maxBuffer: 4 << 20,
      });
      return stdout;
    } catch (err) {
      throw new Error(`oidcd ${args.join(' ')} failed (exit ${err.code}):\n${err.stderr || err.message}`);
    }
  }

  async createUser(u = ALICE) {
    const args = ['users', 'create', '--username', u.username, '--password', u.password];
    if (u.name) args.push('--name', u.name);
    if (u.givenName) args.push('--given-name', u.givenName);
    if (u.familyName) args.push('--family-name', u.familyName);
    if (u.email) args.push('--email', u.email, '--email-verified');
    return this.cli(...args);
  }

  // createClient registers a client and returns the parsed --json output.
  async createClient({ name, type = 'confidential', responseTypes = ['code'], redirectUris = [], grantTypes = [], scope = 'openid profile email', requireConsent = false, reuseConsent = false }) {
    const args = ['clients', 'create', '--json', '--name', name, '--type', type, '--scope', scope];
    for (const rt of responseTypes) args.push('--response-type', rt);
    for (const u of redirectUris) args.push('--redirect-uri', u);
    for (const g of grantTypes) args.push('--grant-type', g);
    // oidcd turns both on by default (django-oidc-provider's model); the tests say what they need.
    args.push(`--require-consent=${requireConsent}`, `--reuse-consent=${reuseConsent}`);
    const out = await this.cli(...args);
    let c;
    try {
      c = JSON.parse(out);
    } catch {
      throw new Error(`oidcd clients create --json printed no JSON:\n${out}`);
    }
    if (!c.client_id) throw new Error(`oidcd clients create --json gave no client_id:\n${out}`);
    if (type === 'confidential' && !c.client_secret) throw new Error(`confidential client without client_secret:\n${out}`);
    return c;
  }
}

// startOidcd builds (once) and starts a fresh oidcd on a free port.
export async function startOidcd({ extraEnv = {} } = {}) {
  const bin = await oidcdBinary();
  const dir = tempDir('oidcd-e2e-');
  const port = await freePort();
  const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? dir, TMPDIR: os.tmpdir() };
  const server = new OidcdServer({ bin, dir, port, env, extraEnv });
  await server.start();
  return server;
}

// --- Chromium via playwright-core ---------------------------------------

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launchChromium() {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: install it with apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

// newContext is a fresh browser profile (no cookies). E2E_BYPASS_CSP=1 makes
// Chromium ignore pages' Content-Security-Policy: a diagnostic switch only,
// to see what else fails while a CSP bug in oidcd is open; never the default.
export async function newContext(browser) {
  const bypassCSP = process.env.E2E_BYPASS_CSP === '1';
  if (bypassCSP && !newContext.warned) {
    newContext.warned = true;
    console.error('# WARNING: E2E_BYPASS_CSP=1: Chromium ignores Content-Security-Policy; results do not reflect real browsers');
  }
  return browser.newContext({ bypassCSP });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// recordConsole collects a page's console messages and errors, so a failure
// can show what the relying party's JavaScript said.
export function recordConsole(page) {
  const lines = [];
  page.on('console', (m) => lines.push(`[console.${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  page.on('requestfailed', (r) => lines.push(`[requestfailed] ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  return lines;
}

// describePage is a failure report: URL, console and HTML of the page, and
// the tail of the server log.
export async function describePage(page, { server, consoleLines } = {}) {
  let html = '';
  try { html = await page.content(); } catch (err) { html = `(no content: ${err.message})`; }
  if (html.length > 6000) html = html.slice(0, 6000) + '\n…(truncated)';
  const parts = [`page URL: ${page.url()}`];
  if (consoleLines?.length) parts.push(`browser console:\n${consoleLines.slice(-30).join('\n')}`);
  parts.push(`page HTML:\n${html}`);
  if (server) parts.push(`oidcd log tail:\n${server.logTail()}`);
  return parts.join('\n\n');
}

function isLoginPage(url, issuer) {
  const u = new URL(url);
  return u.origin === new URL(issuer).origin && u.pathname.replace(/\/$/, '') === '/login';
}

// authorize drives oidcd's real pages after the browser has been sent to
// /authorize: it fills the login form, clicks `allow` (or Decline, with
// consent: 'decline') on the consent page when one is shown, and returns
// once `done(url)` holds for the page URL. It reports which pages it saw,
// and can screenshot them (shots.login, shots.consent: file names).
export async function authorize(page, { server, user = ALICE, done, consent = 'allow', shots = {}, consoleLines, timeout = 15000 }) {
  const seen = { login: false, consent: false, declined: false };
  const deadline = Date.now() + timeout;
  const fail = async (msg) => {
    const csp = (consoleLines || []).filter((l) => /Content Security Policy/.test(l));
    if (csp.length) {
      msg += '\n\nCHROMIUM BLOCKED A NAVIGATION BECAUSE OF oidcd\'S Content-Security-Policy:\n' + csp.join('\n') +
        '\n(Chromium names the pre-redirect URL; the blocked target is the redirect that URL answered with.)';
    }
    throw new Error(`${msg}\n\n${await describePage(page, { server, consoleLines })}`);
  };
  let step = 0;
  while (Date.now() < deadline) {
    if (++step > 8) await fail('too many steps through the authorization pages');
    await page.waitForLoadState('domcontentloaded');
    const url = page.url();
    if (done(new URL(url))) return seen;

    if (isLoginPage(url, server.issuer)) {
      if (seen.login) await fail('the login page was shown again after signing in (wrong password, CSRF failure, or the session was not kept?)');
      seen.login = true;
      const form = page.locator('form:has(input[name="password"])');
      if (await form.locator('input[name="csrf_token"]').count() !== 1) await fail('login form has no csrf_token input');
      if (await form.locator('input[name="next"]').count() !== 1) await fail('login form has no hidden next input');
      await form.locator('input[name="username"]').fill(user.username);
      await form.locator('input[name="password"]').fill(user.password);
      if (shots.login) await screenshot(page, shots.login);
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && isLoginPage(r.url(), server.issuer), { timeout: 10000 }),
        form.locator('[type="submit"]').first().click(),
      ]);
      if (resp.status() >= 300 && resp.status() < 400) {
        // Signed in: follow the redirect away from /login.
        await page.waitForURL((u) => !isLoginPage(u.href, server.issuer), { waitUntil: 'commit', timeout: 10000 })
          .catch((err) => fail(`the browser did not follow the login redirect: ${err.message.split('\n')[0]}`));
      } else {
        // The form came back (bad credentials, CSRF failure…): the next
        // round sees the login page again and reports it.
        await page.waitForLoadState('load');
      }
      continue;
    }

    const allow = page.locator('form [name="allow"]');
    if (new URL(url).origin === new URL(server.issuer).origin && await allow.count() > 0) {
      if (seen.consent) await fail('the consent page was shown again after clicking allow');
      seen.consent = true;
      if (shots.consent) await screenshot(page, shots.consent);
      const button = consent === 'decline'
        ? page.locator('form:has([name="allow"]) [type="submit"]:not([name="allow"])').first()
        : allow.first();
      if (consent === 'decline') {
        if (await button.count() !== 1) await fail('the consent page has no Decline button');
        seen.declined = true;
      }
      const before = url;
      await Promise.all([
        page.waitForURL((u) => u.href !== before, { waitUntil: 'commit', timeout: 10000 })
          .catch((err) => fail(`after clicking ${consent} on the consent page the browser did not leave it: ${err.message.split('\n')[0]}`)),
        button.click(),
      ]);
      continue;
    }

    // Somewhere else: perhaps still redirecting. Wait briefly for the URL to
    // change or settle into the target.
    try {
      await page.waitForURL((u) => done(u) || isLoginPage(u.href, server.issuer) || u.href !== url, { timeout: 3000 });
    } catch {
      await fail(`stuck on an unexpected page while authorizing (want the relying party's callback)`);
    }
  }
  await fail('authorization did not finish in time');
}
