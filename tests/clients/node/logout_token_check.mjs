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

// Security Event Tokens as an SSF 1.0 receiver validates them, on the same library:
//   a JWS verified with the transmitter's published keys (ES256), typ secevent+jwt
//   (RFC 8417 section 2.3), iss the transmitter's issuer, aud this receiver's audience,
//   iat and jti present, no exp and no sub (RFC 8417 section 2.2; SSF uses sub_id),
//   exactly one event (SSF 1.0 section 4.1.4), and per event:
//   - CAEP session-revoked: a complex sub_id (RFC 9493) whose user, session, application,
//     device and tenant members are opaque identifiers, the tenant always present (Signoff's
//     SETs are per tenant), the event an object with a numeric event_timestamp;
//   - SSF verification: an opaque sub_id (the stream), the event an object whose state,
//     if any, is a string.
// check(token, audience) -> {accepted, reason?, event?, user?, session?, application?,
// device?, tenant?, stream?, state?, event_timestamp?, jti?}.
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';

function opaqueId(member) {
  return member && member.format === 'opaque' && typeof member.id === 'string' ? member.id : null;
}

export function makeSetChecker({ jwks_uri, issuer }) {
  const keys = createRemoteJWKSet(new URL(jwks_uri));
  return async function check(token, audience) {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience,
        algorithms: ['ES256'],
        typ: 'secevent+jwt',
        requiredClaims: ['iat', 'jti', 'events', 'sub_id'],
      }));
    } catch (e) {
      // A failed claim check names the claim (jose's JWTClaimValidationFailed.claim).
      const claim = e.claim ? ` (${e.claim})` : '';
      return { accepted: false, reason: `${e.code ?? e.message}${claim}`, claim: e.claim };
    }
    if ('exp' in payload || 'sub' in payload) {
      return { accepted: false, reason: 'exp or sub present' };
    }
    const types = Object.keys(payload.events ?? {});
    if (types.length !== 1) {
      return { accepted: false, reason: `${types.length} events in one SET` };
    }
    const event = payload.events[types[0]];
    if (event === null || typeof event !== 'object' || Array.isArray(event)) {
      return { accepted: false, reason: 'the event is not an object' };
    }
    const subId = payload.sub_id;
    if (types[0] === SESSION_REVOKED) {
      if (subId?.format !== 'complex') {
        return { accepted: false, reason: 'sub_id is not a complex subject' };
      }
      const user = opaqueId(subId.user);
      const session = opaqueId(subId.session);
      const application = opaqueId(subId.application);
      const device = opaqueId(subId.device);
      const tenant = opaqueId(subId.tenant);
      if ((subId.user && !user) || (subId.session && !session)
        || (subId.application && !application) || (subId.device && !device)) {
        return { accepted: false, reason: 'a sub_id member is not an opaque identifier' };
      }
      if (!tenant) {
        return { accepted: false, reason: 'no tenant' };
      }
      if (typeof event.event_timestamp !== 'number') {
        return { accepted: false, reason: 'no event_timestamp' };
      }
      return {
        accepted: true, event: 'session-revoked', user, session, application, device, tenant,
        event_timestamp: event.event_timestamp, jti: payload.jti,
      };
    }
    if (types[0] === VERIFICATION) {
      const stream = opaqueId(subId);
      if (!stream) {
        return { accepted: false, reason: 'the verification sub_id is not an opaque stream id' };
      }
      if ('state' in event && typeof event.state !== 'string') {
        return { accepted: false, reason: 'state is not a string' };
      }
      return { accepted: true, event: 'verification', stream, state: event.state, jti: payload.jti };
    }
    return { accepted: false, reason: `unexpected event ${types[0]}` };
  };
}
