"""Introspects tokens through Signoff with Authlete's own Python SDK (authlete 1.3.0,
`AuthleteApiImpl` on API V3), as a resource server and an authorization server built on
it would, and verifies the RFC 9701 JWT of the standard API with joserfc, an independent
JOSE library, against the JWKS Signoff publishes.

Driven by tests/tests/e2e_introspect.rs. Reads one JSON request on stdin (so no
credential or token appears in a process listing):

    {"base_url": "...", "service_id": "...", "service_token": "...",
     "tokens": ["...", ...], "scopes": ["..."], "rs_uri": "..."}

and prints, per token, what the SDK parsed: {"introspection": {...},
"standard": {...}, "jwt": {"header": {...}, "claims": {...}}}. An HTTP error raises the
SDK's AuthleteApiException, which fails the script.
"""

import json
import sys

import requests
from authlete.api import AuthleteApiImpl
from authlete.conf import AuthleteConfiguration
from authlete.dto import IntrospectionRequest, StandardIntrospectionRequest
from joserfc import jwt
from joserfc.jwk import KeySet

JWT_TYPE = "application/token-introspection+jwt"


def main() -> None:
    request = json.load(sys.stdin)
    base = request["base_url"]
    conf = AuthleteConfiguration()
    conf.apiVersion = "V3"
    conf.baseUrl = base
    conf.serviceApiKey = request["service_id"]
    conf.serviceAccessToken = request["service_token"]
    api = AuthleteApiImpl(conf)

    keys = requests.get(f"{base}/.well-known/jwks.json", timeout=30)
    keys.raise_for_status()
    key_set = KeySet.import_key_set(keys.json())
    results = []
    for token in request["tokens"]:
        asked = IntrospectionRequest()
        asked.token = token
        asked.scopes = request["scopes"]
        answer = api.introspection(asked)

        relayed = StandardIntrospectionRequest()
        relayed.parameters = f"token={token}&token_type_hint=access_token"
        standard = api.standardIntrospection(relayed)

        signed = StandardIntrospectionRequest()
        signed.parameters = f"token={token}"
        signed.rsUri = request["rs_uri"]
        signed.httpAcceptHeader = JWT_TYPE
        signed_answer = api.standardIntrospection(signed)
        decoded = jwt.decode(signed_answer.responseContent, key_set, algorithms=["ES256"])

        results.append(
            {
                "introspection": {
                    "action": answer.action.name,
                    "resultCode": answer.resultCode,
                    "responseContent": answer.responseContent,
                    "existent": answer.existent,
                    "usable": answer.usable,
                    "sufficient": answer.sufficient,
                    "clientId": answer.clientId,
                    "subject": answer.subject,
                    "scopes": answer.scopes,
                    "expiresAt": answer.expiresAt,
                },
                "standard": {
                    "action": standard.action.name,
                    "resultCode": standard.resultCode,
                    "responseContent": json.loads(standard.responseContent),
                },
                "jwt": {
                    "action": signed_answer.action.name,
                    "header": decoded.header,
                    "claims": decoded.claims,
                },
            }
        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
