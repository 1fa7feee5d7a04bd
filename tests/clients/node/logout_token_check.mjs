// Validation of a logout token exactly as OpenID Connect Back-Channel Logout 1.0 (errata
// set 1) section 2.6 asks, on an independent library (jose, pinned in package.json):
//   1-2. a JWS, verified with the OP's published keys (fetched from its jwks_uri), with the
//        algorithm the OP signs with (ES256), and the typ logout+jwt section 2.4 recommends;
//   3.   iss, aud (this client) and iat as for an ID Token, exp present and not passed;
//   4.   a sub or a sid claim (or both);
//   5.   an events claim holding the back-channel logout event, whose value is a JSON
//        object;
//   6.   no nonce claim.
// Used by the relying party (logout_token_rp.mjs) and the receiver (logout_receiver.mjs).
import { createRemoteJWKSet, jwtVerify } from 'jose';

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

// A checker for tokens of the OP at `issuer`, whose keys `jwks_uri` publishes:
// check(token, client_id) -> {accepted, reason?, sub?, sid?, jti?}.
export function makeChecker({ jwks_uri, issuer }) {
  const keys = createRemoteJWKSet(new URL(jwks_uri));
  return async function check(token, client_id) {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience: client_id,
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
  };
}
