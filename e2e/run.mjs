// npm test: build oidcd once for the whole run, then run every test file
// with Node's test runner. Extra arguments go to `node --test`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildOidcd, E2E_DIR } from './lib/oidcd.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'oidcd-e2e-bin-'));
let code = 1;
try {
  const started = Date.now();
  const bin = await buildOidcd(path.join(dir, 'oidcd'));
  console.log(`# built oidcd in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  const files = ['browser.test.mjs', 'openid-client.test.mjs', 'registration.test.mjs', 'device.test.mjs', 'par.test.mjs', 'logout.test.mjs', 'encryption.test.mjs', 'resource.test.mjs'];
  const args = ['--test', '--test-concurrency=1', '--test-timeout=120000', ...process.argv.slice(2), ...files];
  code = await new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: E2E_DIR, stdio: 'inherit', env: { ...process.env, OIDCD_E2E_BIN: bin },
    });
    child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
  });
} catch (err) {
  console.error(err.message);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
