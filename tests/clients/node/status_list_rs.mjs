// A resource server that validates JWT access tokens offline and checks their Token Status
// List entries, built only on independent libraries (pinned in package.json): jose for JWS
// and JWT validation, @sd-jwt/jwt-status-list for the draft's list format. It follows
// draft-ietf-oauth-status-list section 8.3: the access token itself first (signature,
// issuer, expiry), then its status claim's list, fetched over HTTP, validated (signature by
// the issuer's JWKS, typ statuslist+jwt, sub equal to the uri, exp), decompressed, and the
// entry read; only VALID (0) passes.
//
// stdin: {"as_jwks": JWKS of the access tokens' issuer, "issuer": its iss,
//         "list_jwks_uri": where the list signer's keys are, "tokens": [JWT, ...]}
// stdout: one result per token: {"accepted": bool, "reason": string, "idx", "status"}.
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import { getListFromStatusListJWT, getStatusListFromJWT } from '@sd-jwt/jwt-status-list';

const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
}));
const accessKeys = createLocalJWKSet(input.as_jwks);
const listKeys = createRemoteJWKSet(new URL(input.list_jwks_uri));

async function check(token) {
  // 1. The Referenced Token on its own: an expired or forged token fails whatever its entry.
  try {
    await jwtVerify(token, accessKeys, { issuer: input.issuer });
  } catch (e) {
    return { accepted: false, reason: `access token: ${e.code ?? e.message}` };
  }
  const { idx, uri } = getStatusListFromJWT(token);
  // 2. The Status List Token, as the draft's Status List Request asks for it.
  const response = await fetch(uri, { headers: { accept: 'application/statuslist+jwt' } });
  if (response.status !== 200) {
    return { accepted: false, reason: `status list: HTTP ${response.status}`, idx };
  }
  const type = response.headers.get('content-type');
  if (type !== 'application/statuslist+jwt') {
    return { accepted: false, reason: `status list: content-type ${type}`, idx };
  }
  const listJwt = await response.text();
  try {
    await jwtVerify(listJwt, listKeys, {
      typ: 'statuslist+jwt',
      subject: uri,
      requiredClaims: ['sub', 'iat', 'status_list'],
    });
  } catch (e) {
    return { accepted: false, reason: `status list: ${e.code ?? e.message}`, idx };
  }
  // 3. The entry (an index past the list's end throws: a failure, not VALID).
  const status = getListFromStatusListJWT(listJwt).getStatus(idx);
  return { accepted: status === 0, reason: status === 0 ? 'VALID' : `status ${status}`, idx, status };
}

const results = [];
for (const token of input.tokens) {
  results.push(await check(token));
}
process.stdout.write(JSON.stringify(results));
