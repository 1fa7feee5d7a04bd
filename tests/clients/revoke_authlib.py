"""Revokes a token through Signoff with authlib, a real OAuth 2.0 client library.

Driven by tests/tests/e2e_revoke.rs. Reads one JSON request on stdin (so no secret or token
appears in a process listing):

    {"url": "...", "client_id": "...", "client_secret": "..." or null,
     "auth_method": "client_secret_basic" | "client_secret_post" | "none",
     "token": "...", "token_type_hint": "refresh_token" | "access_token" | null}

and prints the response as JSON: {"status": 200, "body": "...", "headers": {...}}.
"""

import json
import sys

from authlib.integrations.requests_client import OAuth2Session


def main() -> None:
    request = json.load(sys.stdin)
    session = OAuth2Session(
        client_id=request["client_id"],
        client_secret=request.get("client_secret"),
        revocation_endpoint_auth_method=request["auth_method"],
    )
    response = session.revoke_token(
        request["url"],
        token=request["token"],
        token_type_hint=request.get("token_type_hint"),
        timeout=30,
    )
    json.dump(
        {
            "status": response.status_code,
            "body": response.text,
            "headers": {k.lower(): v for k, v in response.headers.items()},
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
