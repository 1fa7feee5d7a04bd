// A relying party receiving back-channel logouts, built only on an independent library:
// it validates each logout token as section 2.6 asks (logout_token_check.mjs) and reports
// what each logs out.
//
// stdin: {"jwks_uri": the OP's JWKS URL, "issuer": its iss, "client_id": this client,
//         "tokens": [JWT, ...]}
// stdout: one result per token: {"accepted": bool, "reason"?: string, "sub"?, "sid"?, "jti"?}.
import { makeChecker } from './logout_token_check.mjs';

const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (chunk) => { text += chunk; });
  process.stdin.on('end', () => resolve(text));
}));
const check = makeChecker(input);

const results = [];
for (const token of input.tokens) {
  results.push(await check(token, input.client_id));
}
process.stdout.write(JSON.stringify(results));
