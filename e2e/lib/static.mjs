// A tiny static file server for the single-page apps in e2e/spa. It also
// serves the oidc-client-ts browser bundle from node_modules and a generated
// /config.js that tells the apps which issuer and client_ids to use.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { E2E_DIR } from './oidcd.mjs';

const require = createRequire(import.meta.url);
const SPA_DIR = path.join(E2E_DIR, 'spa');
const OIDC_CLIENT_TS_DIR = path.join(path.dirname(require.resolve('oidc-client-ts/package.json')), 'dist', 'browser');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

// startStaticServer listens on 127.0.0.1:port. config becomes
// window.OIDCD_E2E in /config.js. Every page is served with a CSP that
// forbids inline script, so the apps really keep their JS in files.
export async function startStaticServer({ port, config, issuer, frameIssuer = false }) {
  const log = [];
  // urls are the request URIs with their query (front-channel logout
  // requests carry iss and sid there).
  const urls = [];
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, `http://${req.headers.host}`);
    log.push(`${req.method} ${url.pathname}`);
    urls.push(req.url);
    let file;
    let body;
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    if (url.pathname === '/config.js') {
      body = `window.OIDCD_E2E = ${JSON.stringify(config)};\n`;
    } else if (url.pathname.startsWith('/vendor/oidc-client-ts/')) {
      file = path.join(OIDC_CLIENT_TS_DIR, path.basename(url.pathname));
    } else {
      const rel = url.pathname === '/' ? 'index.html' : url.pathname.slice(1);
      file = path.join(SPA_DIR, path.normalize(rel));
      if (!file.startsWith(SPA_DIR + path.sep)) file = null;
    }
    if (body === undefined && file) {
      try { body = await readFile(file); } catch { body = undefined; }
    }
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const ext = url.pathname === '/config.js' ? '.js' : path.extname(file);
    res.writeHead(200, {
      'content-type': TYPES[ext] || 'application/octet-stream',
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'self'; script-src 'self'; connect-src 'self' ${issuer}; img-src 'self' data:${frameIssuer ? `; frame-src ${issuer}` : ''}`,
    });
    res.end(body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    log,
    urls,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
