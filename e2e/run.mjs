// npm test: build oidcd once for the whole run, then run every test file
// with Node's test runner. Arguments naming test files (*.test.mjs) run
// only those; other arguments go to `node --test`.
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
  // The web console: its click-through, and every page at two widths
  // checked by axe-core, which takes minutes on a loaded machine: a run of
  // its own whose timeout bounds each file as well as each test.
  const consoleFiles = ['console.test.mjs', 'console-pages.test.mjs', 'console-pages-admin.test.mjs', 'console-pages-account.test.mjs', 'console-pages-languages.test.mjs'];
  // Every page a person sees, in every language at two widths, each
  // checked by axe-core: minutes on a loaded 2-core machine, so a run of
  // its own with room.
  const pageFiles = ['pages.test.mjs'];
  const chosen = process.argv.slice(2).filter((a) => a.endsWith('.test.mjs'));
  const flags = process.argv.slice(2).filter((a) => !a.endsWith('.test.mjs'));
  for (const f of chosen) {
    if (!files.includes(f) && !consoleFiles.includes(f) && !pageFiles.includes(f)) throw new Error(`run.mjs: no test file ${f}`);
  }
  const pick = (list) => (chosen.length ? list.filter((f) => chosen.includes(f)) : list);
  const run = (timeout, list) => list.length === 0 ? Promise.resolve(0) : new Promise((resolve) => {
    const args = ['--test', '--test-concurrency=1', `--test-timeout=${timeout}`, ...flags, ...list];
    const child = spawn(process.execPath, args, {
      cwd: E2E_DIR, stdio: 'inherit', env: { ...process.env, OIDCD_E2E_BIN: bin },
    });
    child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
  });
  code = await run(120000, pick(files));
  const consoleCode = await run(300000, pick(consoleFiles));
  const pagesCode = await run(1800000, pick(pageFiles));
  code = code || consoleCode || pagesCode;
} catch (err) {
  console.error(err.message);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
