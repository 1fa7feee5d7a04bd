// Back-channel logout receivers for the end-to-end tests: one HTTP server playing any
// number of relying parties, each at POST /rp/<client_id>/logout, as section 2.5 of
// OpenID Connect Back-Channel Logout 1.0 describes the request (a form with
// logout_token). Every token is validated as section 2.6 asks (logout_token_check.mjs,
// on the independent jose library) and recorded; the answer is what the test set for
// that client:
//   PUT /control/<client_id>  {"status": 200 | 204 | 400 | 503 | ..., "delay_ms": N}
//   GET /received             every request so far: {client_id, at_ms, answered,
//                             answered_at_ms, accepted, reason?, sub?, sid?, jti?}
// A relying party answers 200 with Cache-Control: no-store unless told otherwise.
//
// It also plays Shared Signals receivers, each at POST /ssf/<receiver_id>, as RFC 8935
// section 2 describes the push (Content-Type application/secevent+jwt, the SET as the
// body). Every SET is validated (makeSetChecker) against the audience and the
// Authorization header the test set:
//   PUT /control/ssf:<receiver_id>  {"status": 202 | 400 | 503 | ..., "audience": "...",
//                                    "authorization": "Bearer ..."}
// and recorded in /received as {receiver_id, at_ms, answered, accepted, reason?, event,
// user?, session?, tenant?, stream?, state?, jti}. A valid SET gets 202; an invalid one
// 400 with RFC 8935 section 2.3's {"err", "description"}, unless told otherwise.
//
// argv[2]: {"jwks_uri": the OP's JWKS URL, "issuer": its iss, "ssf_issuer"?: the SSF
// transmitter's iss (default issuer), "tls"?: {"cert", "key"} PEM file paths, to take
// the relying parties' and receivers' POSTs over HTTPS too (on a second port, printed as
// "tls_port"; control and /received stay on plain http), "port"?: where to listen
// (any free port if absent), "log"?: print each request's record as a JSON line (the
// demo receiver scripts/dev runs)}. Prints {"port": N} once listening on 127.0.0.1.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { makeChecker, makeSetChecker } from './logout_token_check.mjs';

const config = JSON.parse(process.argv[2]);
const check = makeChecker(config);
// SETs come from the SSF transmitter, whose issuer is Signoff's own URL (ssf_issuer).
const checkSet = makeSetChecker({ jwks_uri: config.jwks_uri, issuer: config.ssf_issuer ?? config.issuer });
const behaviour = new Map();
const received = [];

function body(request) {
  return new Promise((resolve) => {
    let text = '';
    request.on('data', (chunk) => { text += chunk; });
    request.on('end', () => resolve(text));
  });
}

async function handle(request, response) {
  const url = new URL(request.url, 'http://receiver');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (request.method === 'GET' && url.pathname === '/received') {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(received));
    return;
  }
  if (request.method === 'PUT' && parts[0] === 'control' && parts.length === 2) {
    behaviour.set(parts[1], JSON.parse(await body(request)));
    response.writeHead(204);
    response.end();
    return;
  }
  if (request.method === 'POST' && parts[0] === 'rp' && parts[2] === 'logout') {
    const client_id = parts[1];
    const at_ms = Date.now();
    const type = request.headers['content-type'] ?? '';
    const form = new URLSearchParams(await body(request));
    const token = form.get('logout_token');
    const result = type.startsWith('application/x-www-form-urlencoded') && token
      ? await check(token, client_id)
      : { accepted: false, reason: `not a logout form (${type})` };
    const { status = 200, delay_ms = 0 } = behaviour.get(client_id) ?? {};
    const entry = { client_id, at_ms, answered: status, ...result };
    received.push(entry);
    if (delay_ms > 0) {
      await new Promise((resolve) => setTimeout(resolve, delay_ms));
    }
    entry.answered_at_ms = Date.now();
    if (config.log) {
      process.stdout.write(`${JSON.stringify(entry)}\n`);
    }
    // Section 2.8: a refused token gets 400 with an error body.
    response.writeHead(status, { 'Cache-Control': 'no-store', 'Content-Type': 'application/json' });
    response.end(status === 400 ? JSON.stringify({ error: 'invalid_request' }) : '');
    return;
  }
  if (request.method === 'POST' && parts[0] === 'ssf' && parts.length === 2) {
    const receiver_id = parts[1];
    const at_ms = Date.now();
    const control = behaviour.get(`ssf:${receiver_id}`) ?? {};
    const type = request.headers['content-type'] ?? '';
    const token = await body(request);
    let result;
    if (!type.startsWith('application/secevent+jwt')) {
      result = { accepted: false, reason: `not a SET push (${type})`, err: 'invalid_request' };
    } else if ((request.headers.authorization ?? null) !== (control.authorization ?? null)) {
      result = { accepted: false, reason: 'wrong authorization', err: 'authentication_failed' };
    } else {
      result = await checkSet(token.trim(), control.audience ?? receiver_id);
      if (!result.accepted) {
        result.err = result.claim === 'aud' ? 'invalid_audience'
          : result.claim === 'iss' ? 'invalid_issuer' : 'invalid_request';
      }
    }
    const status = control.status ?? (result.accepted ? 202 : 400);
    const { err, claim, ...recorded } = result;
    const entry = { receiver_id, at_ms, answered: status, ...recorded };
    received.push(entry);
    entry.answered_at_ms = Date.now();
    if (config.log) {
      process.stdout.write(`${JSON.stringify(entry)}\n`);
    }
    response.writeHead(status, { 'Content-Type': 'application/json' });
    response.end(status === 400
      ? JSON.stringify({ err: err ?? 'invalid_request', description: result.reason ?? 'refused by the test' })
      : '');
    return;
  }
  response.writeHead(404);
  response.end();
}

const server = http.createServer(handle);
const listening = (s, port) => new Promise((resolve) => s.listen(port, '127.0.0.1', resolve));
await listening(server, config.port ?? 0);
const ports = { port: server.address().port };
if (config.tls) {
  const secure = https.createServer(
    { cert: fs.readFileSync(config.tls.cert), key: fs.readFileSync(config.tls.key) },
    handle,
  );
  await listening(secure, 0);
  ports.tls_port = secure.address().port;
}
process.stdout.write(`${JSON.stringify(ports)}\n`);
