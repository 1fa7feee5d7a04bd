"""Schemathesis extensions for the contract fuzz run (tests/tests/contract_fuzz.rs).

- A fresh Descope refresh JWT for every schema-valid Descope request: each logout revokes
  the JWT it was given, so one configured token would turn every later request into a 401.
- `refusals_are_documented`: a schema-valid request may be refused only for a reason the
  operation's description in docs/openapi.yaml gives.
"""
import json
import os
import re

import schemathesis

_JWTS = open(os.environ["SIGNOFF_FUZZ_DESCOPE_JWTS"]).read().split()
_PROJECT = os.environ["SIGNOFF_FUZZ_DESCOPE_PROJECT"]


@schemathesis.hook.apply_to(operation_id=["descopeLogout", "descopeLogoutAll"])
def before_call(ctx, case, **kwargs):
    """A schema-valid Descope request carries a fresh, registered refresh JWT (schema-invalid
    ones keep whatever credential was generated for them)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if not _JWTS:
        raise RuntimeError("out of minted refresh JWTs: mint more in contract_fuzz.rs")
    case.headers = case.headers or {}
    if case.headers.get("Authorization") != f"Bearer {_PROJECT}:replaced-per-request":
        return  # a credential a check altered or generated on purpose
    case.headers["Authorization"] = f"Bearer {_PROJECT}:{_JWTS.pop()}"


# Why a schema-valid request may still be refused, per operation: (status, body field, the
# code, a pattern its description must match). Each line is stated in the operation's
# description in docs/openapi.yaml.
_SHAPE_ONLY = re.compile(r".*", re.S)
DOCUMENTED_REFUSALS = {
    "registerTokens": [
        (400, "error", "invalid_request", re.compile(
            r"^(tokens\[\d+\]: )?("
            r"issuedAt: is more than 30 seconds in the future"
            r"|issuedAt: is after expiresAt"
            r"|expiresAt: is not in the future"
            r"|expiresAt: is more than \d+ days after issuedAt"
            r"|token: must be 1 to 16384 bytes"
            r"|\w+: must be at most \d+ bytes"
            r"|the same token appears twice in the batch"
            r")"
        )),
        (409, "error", "session_ended", _SHAPE_ONLY),
    ],
    "revokeToken": [
        (400, "error", "invalid_request", re.compile(r"both|twice|bytes", re.S)),
        (400, "error", "invalid_client", _SHAPE_ONLY),
        (400, "error", "invalid_grant", _SHAPE_ONLY),
    ],
    "netiqRevokeToken": [
        (400, "error", "invalid_request", re.compile(r"both|twice|bytes", re.S)),
        (400, "error", "invalid_client", _SHAPE_ONLY),
        (400, "error", "invalid_grant", _SHAPE_ONLY),
        (400, "error", "unsupported_token_type", _SHAPE_ONLY),
    ],
    "introspectToken": [
        (400, "error", "invalid_request", re.compile(r"both|bytes", re.S)),
    ],
    "netiqIntrospectToken": [
        (400, "error", "invalid_request", re.compile(r"both|bytes", re.S)),
    ],
    "netiqRevokeDevice": [
        (400, "error", "invalid_request", re.compile(r"both|twice|bytes", re.S)),
        (400, "error", "invalid_client", _SHAPE_ONLY),
    ],
    "nativeSsoLogout": [
        (400, "resultCode", "A503204", _SHAPE_ONLY),
    ],
    # None of the four parameters (all are optional, null and "" are absent), byte limits
    # a schema's character counts cannot state, control characters, and form members whose
    # names decode to the same parameter.
    "authleteTokenRevoke": [
        (400, "resultCode", "A312201", _SHAPE_ONLY),
        (400, "resultCode", "A312204", _SHAPE_ONLY),
        (400, "resultCode", "A312205", _SHAPE_ONLY),
        (400, "resultCode", "A312214", _SHAPE_ONLY),
    ],
    # No clientIdentifier, or neither subject nor sessionId (null and "" are absent), byte
    # limits and control characters, or a client the service does not have (nearly every
    # generated one).
    "authleteBackchannelLogoutToken": [
        (400, "resultCode", "A504201", _SHAPE_ONLY),
        (400, "resultCode", "A504204", _SHAPE_ONLY),
        (400, "resultCode", "A504205", _SHAPE_ONLY),
        (400, "resultCode", "A504217", _SHAPE_ONLY),
        (400, "resultCode", "A504218", _SHAPE_ONLY),
    ],
    "authleteTokenDelete": [
        (400, "resultCode", "A136204", _SHAPE_ONLY),
        (400, "resultCode", "A136205", _SHAPE_ONLY),
    ],
    # Byte limits, control characters, an `end` below `start` (no schema can relate the
    # two) and a scope holding more records than one list may read.
    "authleteTokenList": [
        (400, "resultCode", "A138204", _SHAPE_ONLY),
        (400, "resultCode", "A138205", _SHAPE_ONLY),
        (400, "resultCode", "A138215", re.compile(r"must not be less than 'start'")),
        (400, "resultCode", "A138217", _SHAPE_ONLY),
    ],
    "authleteClientAuthorizationDelete": [
        (400, "resultCode", "A137201", _SHAPE_ONLY),
        (400, "resultCode", "A137204", _SHAPE_ONLY),
        (400, "resultCode", "A137205", _SHAPE_ONLY),
    ],
    "authleteClientAuthorizationDeleteWithSubject": [
        (400, "resultCode", "A137204", _SHAPE_ONLY),
        (400, "resultCode", "A137205", _SHAPE_ONLY),
    ],
}


@schemathesis.check
def refusals_are_documented(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 400:
        return None
    operation = case.operation.definition.raw.get("operationId")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError("a 400 without a JSON body")
    for status, field, code, reason in DOCUMENTED_REFUSALS.get(operation, []):
        if response.status_code != status or body.get(field) != code:
            continue
        description = " ".join(
            str(body.get(k, "")) for k in ("error_description", "resultMessage", "errorDescription")
        )
        if reason.search(description):
            return True
    raise AssertionError(
        f"{operation}: a schema-valid request was refused for a reason the contract does not give: {body}"
    )
