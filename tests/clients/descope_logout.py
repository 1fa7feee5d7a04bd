"""Drives Signoff's Descope-compatible endpoints with Descope's own Python SDK.

Usage: descope_logout.py <base_url> <project_id> <logout_jwt> <logout_all_jwt> <management_key> <login_id>

Prints one JSON object describing what the SDK saw; tests/tests/e2e_descope.rs asserts on it.
"""

import json
import sys

from descope import AuthException, DescopeClient


def response(r):
    return {
        "status": r.status_code,
        "body": r.json(),
        "cookies": r.headers.get_list("set-cookie"),
        "cache_control": r.headers.get("cache-control"),
    }


def failure(call):
    try:
        call()
    except AuthException as e:
        return {"status": e.status_code, "error_type": e.error_type, "message": e.error_message}
    return None


def main():
    base_url, project, logout_jwt, logout_all_jwt, management_key, login_id = sys.argv[1:7]
    client = DescopeClient(project_id=project, base_url=base_url)
    seen = {}
    # SDK users verify the refresh JWT locally first: the SDK fetches the project's
    # keys from GET /v2/keys/{projectId} and checks the signature and expiry.
    seen["local_validation"] = client.validate_session(logout_jwt)["sub"]
    seen["logout"] = response(client.logout(logout_jwt))
    seen["logout_again"] = failure(lambda: client.logout(logout_jwt))
    seen["logout_all"] = response(client.logout_all(logout_all_jwt))
    seen["logout_all_again"] = failure(lambda: client.logout_all(logout_all_jwt))
    # A backend with the project's management key logs the user out by login id.
    mgmt = DescopeClient(project_id=project, management_key=management_key, base_url=base_url)
    seen["mgmt_logout"] = failure(lambda: mgmt.mgmt.user.logout_user(login_id)) or "ok"
    seen["mgmt_logout_by_id"] = failure(lambda: mgmt.mgmt.user.logout_user_by_user_id(seen["local_validation"])) or "ok"
    seen["mgmt_logout_unknown"] = failure(lambda: mgmt.mgmt.user.logout_user("nobody@example.com"))
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
