// A relying party receiving back-channel logouts, built only on an independent library
// (jose, pinned in package.json). It validates each logout token exactly as OpenID Connect
// Back-Channel Logout 1.0 (errata set 1) section 2.6 asks:
//   1-2. a JWS, verified with the OP's published keys (fetched from its jwks_uri), with the
//        algorithm the OP signs with (ES256), and the typ logout+jwt section 2.4 recommends;
//   3.   iss, aud (this client) and iat as for an ID Token, exp present and not passed;
//   4.   a sub or a sid claim (or both);
//   5.   an events claim holding the back-channel logout event, whose value is a JSON
//        object;
//   6.   no nonce claim.
// A token that passes is reported with what it logs out.
//
// stdin: {"jwks_uri": the OP's JWKS URL, "issuer": its iss, "client_id": this client,
//         "tokens": [JWT, ...]}
// stdout: one result per token: {"accepted": bool, "reason"?: string, "sub"?, "sid"?, "jti"?}.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
}));
const keys = createRemoteJWKSet(new URL(input.jwks_uri));

async function check(token) {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: input.issuer,
      audience: input.client_id,
      algorithms: ['ES256'],
      typ: 'logout+jwt',
      requiredClaims: ['iat', 'exp', 'jti', 'events'],
      maxTokenAge: '2 minutes',
    }));
  } catch (e) {
    return { accepted: false, reason: e.code ?? e.message };
  }
  if (typeof payload.sub !== 'string' && typeof payload.sid !== 'string') {
    return { accepted: false, reason: 'neither sub nor sid' };
  }
  const event = payload.events?.[EVENT];
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    return { accepted: false, reason: 'no back-channel logout event' };
  }
  if ('nonce' in payload) {
    return { accepted: false, reason: 'nonce present' };
  }
  return { accepted: true, sub: payload.sub, sid: payload.sid, jti: payload.jti };
}

const results = [];
for (const token of input.tokens) {
  results.push(await check(token));
}
process.stdout.write(JSON.stringify(results));
