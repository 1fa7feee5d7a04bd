"""Lists a subject's tokens through Signoff with Authlete's own Python SDK (authlete
1.3.0, `AuthleteApiImpl.getTokenList` on API V3), a few a page, as an administration
console built on it would.

Driven by tests/tests/e2e_introspect.rs. Reads one JSON request on stdin (so no
credential appears in a process listing):

    {"base_url": "...", "service_id": "...", "service_token": "...",
     "client": "...", "subject": "...", "page": 2}

and prints what the SDK parsed: {"totalCount": N, "tokens": [{"accessTokenHash", "clientId",
"subject", "scopes", "accessTokenExpiresAt", "createdAt"}, ...], "client": {...}}. An HTTP
error raises the SDK's AuthleteApiException, which fails the script.
"""

import json
import sys

from authlete.api import AuthleteApiImpl
from authlete.conf import AuthleteConfiguration


def main() -> None:
    request = json.load(sys.stdin)
    conf = AuthleteConfiguration()
    conf.apiVersion = "V3"
    conf.baseUrl = request["base_url"]
    conf.serviceApiKey = request["service_id"]
    conf.serviceAccessToken = request["service_token"]
    api = AuthleteApiImpl(conf)

    page = request["page"]
    tokens, total, client, start = [], None, None, 0
    while True:
        answer = api.getTokenList(request["client"], request["subject"], start, start + page)
        total = answer.totalCount
        client = {"clientId": answer.client.clientId} if answer.client else None
        listed = answer.accessTokens or []
        if not listed:
            break
        for token in listed:
            tokens.append({
                "accessTokenHash": token.accessTokenHash,
                "clientId": token.clientId,
                "subject": token.subject,
                "scopes": token.scopes,
                "accessTokenExpiresAt": token.accessTokenExpiresAt,
                "createdAt": token.createdAt,
            })
        start += page
    json.dump({"totalCount": total, "tokens": tokens, "client": client}, sys.stdout)


if __name__ == "__main__":
    main()
