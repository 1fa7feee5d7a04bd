"""Introspects tokens through Signoff with authlib, a real OAuth 2.0 client library, and
checks the RFC 9701 answers with joserfc, an independent JOSE library, against the JWKS
Signoff publishes.

Driven by tests/tests/e2e_introspect.rs. Reads one JSON request on stdin (so no secret or
token appears in a process listing):

    {"base_url": "...", "client_id": "...", "client_secret": "...",
     "auth_method": "client_secret_basic" | "client_secret_post", "tokens": ["...", ...]}

and prints, per token, {"json": <the RFC 7662 answer>, "jwt": {"header": {...},
"claims": {...}}} after verifying the JWT's signature with the published keys.
"""

import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

JWT_TYPE = "application/token-introspection+jwt"


def main() -> None:
    request = json.load(sys.stdin)
    base = request["base_url"]
    session = OAuth2Session(
        client_id=request["client_id"],
        client_secret=request["client_secret"],
        token_endpoint_auth_method=request["auth_method"],
    )
    keys = requests.get(f"{base}/.well-known/jwks.json", timeout=30)
    keys.raise_for_status()
    key_set = KeySet.import_key_set(keys.json())
    results = []
    for token in request["tokens"]:
        plain = session.introspect_token(
            f"{base}/oauth2/introspect", token=token, timeout=30
        )
        signed = session.introspect_token(
            f"{base}/oauth2/introspect",
            token=token,
            headers={"Accept": JWT_TYPE},
            timeout=30,
        )
        if signed.headers.get("content-type") != JWT_TYPE:
            raise SystemExit(f"the signed answer came as {signed.headers.get('content-type')}")
        decoded = jwt.decode(signed.text, key_set, algorithms=["ES256"])
        results.append(
            {
                "status": plain.status_code,
                "json": plain.json(),
                "jwt": {"header": decoded.header, "claims": decoded.claims},
            }
        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
