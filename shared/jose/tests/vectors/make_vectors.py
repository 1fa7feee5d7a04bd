#!/usr/bin/env python3
"""Writes vectors.json beside this file: keys and tokens made by PyJWT and `cryptography`,
an implementation independent of the crate under test, for tests/vectors.rs.

Run it with the test clients' Python (PyJWT and cryptography are pinned in
tests/clients/requirements.txt):

    .devstack/clients-venv/bin/python shared/jose/tests/vectors/make_vectors.py

Keys are fresh on every run, so the file changes completely; the tests only rely on its
shape. Times are fixed (NOW), so the tests pass `now` explicitly and never expire.
"""

import base64
import hashlib
import hmac
import json
import pathlib

import cryptography
import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

NOW = 1_700_000_000
PROJECT = "P2vectors"


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def spki_der(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def pem(label: str, der: bytes) -> str:
    body = b64(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"


ec_key = ec.generate_private_key(ec.SECP256R1())
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KID, RSA_KID = "ec-1", "rsa-1"

ec_jwk = json.loads(ECAlgorithm.to_jwk(ec_key.public_key()))
ec_jwk.update(kid=EC_KID, alg="ES256", use="sig")
rsa_jwk = json.loads(RSAAlgorithm.to_jwk(rsa_key.public_key()))
rsa_jwk.update(kid=RSA_KID, alg="RS256", use="sig")
private_ec_jwk = json.loads(ECAlgorithm.to_jwk(ec_key))


def claims(**extra):
    base = {"sub": "user-1", "iss": PROJECT, "iat": NOW, "exp": NOW + 3600, "drn": "DSR"}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def es256(payload, **headers):
    return jwt.encode(payload, ec_key, algorithm="ES256", headers={"kid": EC_KID, **headers})


def rs256(payload, **headers):
    return jwt.encode(payload, rsa_key, algorithm="RS256", headers={"kid": RSA_KID, **headers})


def segment(obj) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def relabel(token: str, header: dict) -> str:
    """The token's payload and signature under another header."""
    _, payload, signature = token.split(".")
    return f"{segment(header)}.{payload}.{signature}"


good_es = es256(claims())
good_rs = rs256(claims())
header, payload, signature = good_es.split(".")
tampered_claims = claims(sub="admin")
hs_input = f"{segment({'alg': 'HS256', 'kid': EC_KID, 'typ': 'JWT'})}.{segment(claims())}"
hs_signature = hmac.new(
    pem("PUBLIC KEY", spki_der(ec_key.public_key())).encode(), hs_input.encode(), hashlib.sha256
).digest()

valid = [
    {"name": "es256", "token": good_es, "user": "user-1"},
    {"name": "rs256", "token": good_rs, "user": "user-1"},
    {
        "name": "dsub overrides sub, issuer URL",
        "token": es256(claims(dsub="d-user", iss=f"https://api.descope.com/{PROJECT}")),
        "user": "d-user",
        "subject": "user-1",
    },
    {"name": "no drn, nbf now", "token": rs256(claims(drn=None, nbf=NOW)), "user": "user-1"},
    {
        "name": "expired within the leeway",
        "token": es256(claims(exp=NOW - 4)),
        "user": "user-1",
    },
]

invalid = [
    {"name": "tampered payload", "token": f"{header}.{segment(tampered_claims)}.{signature}",
     "error": "BadSignature"},
    {"name": "wrong kid", "token": relabel(good_es, {"alg": "ES256", "kid": "nobody"}),
     "error": "UnknownKey"},
    {"name": "no kid", "token": jwt.encode(claims(), ec_key, algorithm="ES256"),
     "error": "UnknownKey"},
    {"name": "alg none", "token": jwt.encode(claims(), None, algorithm="none",
                                             headers={"kid": EC_KID}),
     "error": "UnsupportedAlgorithm"},
    {"name": "HS256 keyed with the public key", "token": f"{hs_input}.{b64u(hs_signature)}",
     "error": "UnsupportedAlgorithm"},
    {"name": "ES256 header on the RSA key's kid",
     "token": relabel(good_rs, {"alg": "ES256", "kid": RSA_KID}), "error": "UnknownKey"},
    {"name": "RS256 header on the EC key's kid",
     "token": relabel(good_es, {"alg": "RS256", "kid": EC_KID}), "error": "UnknownKey"},
    {"name": "ES256 signed by another key under the project's kid",
     "token": jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256",
                         headers={"kid": EC_KID}),
     "error": "BadSignature"},
    {"name": "expired past the leeway", "token": es256(claims(exp=NOW - 6)), "error": "Expired"},
    {"name": "nbf in the future", "token": rs256(claims(nbf=NOW + 6)), "error": "NotYetValid"},
    {"name": "crit", "token": es256(claims(), crit=["exp"]), "error": "CriticalHeader"},
    {"name": "bad base64 signature", "token": f"{header}.{payload}.{signature[:-2]}!!",
     "error": "Malformed"},
    {"name": "bad base64 header", "token": f"*{header}.{payload}.{signature}",
     "error": "Malformed"},
    {"name": "four parts", "token": f"{good_es}.x", "error": "Malformed"},
    {"name": "oversize", "token": es256(claims(pad="x" * (16 * 1024))), "error": "Malformed"},
    {"name": "another issuer", "token": es256(claims(iss="https://api.descope.com/P2other")),
     "error": "WrongIssuer"},
    {"name": "session token (drn DS)", "token": es256(claims(drn="DS")),
     "error": "NotRefreshToken"},
    {"name": "no exp", "token": es256(claims(exp=None)), "error": "MissingClaim"},
    {"name": "user id of 257 bytes", "token": rs256(claims(sub="u" * 257)),
     "error": "MissingClaim"},
    {"name": "user id with a control character", "token": rs256(claims(sub="a\nb")),
     "error": "MissingClaim"},
]

# Public keys as PEM, and broken encodings of them the parser must refuse.
ec_spki = spki_der(ec_key.public_key())
rsa_spki = spki_der(rsa_key.public_key())
rsa_pkcs1 = rsa_key.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.PKCS1
)
assert ec_spki[:2] == b"\x30\x59" and rsa_spki[:4] == b"\x30\x82\x01\x22"
# SEQUENCE { the same AlgorithmIdentifier, BIT STRING { 0 unused bits, 33-byte point } }
compressed_spki = b"\x30\x39" + ec_spki[2:23] + b"\x03\x22\x00" + ec_key.public_key().public_bytes(
    serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
)
bad_pems = [
    {"name": "EC SPKI with a trailing byte", "pem": pem("PUBLIC KEY", ec_spki + b"\x00")},
    {"name": "RSA SPKI with a trailing byte", "pem": pem("PUBLIC KEY", rsa_spki + b"\x00")},
    {"name": "PKCS#1 with a trailing byte", "pem": pem("RSA PUBLIC KEY", rsa_pkcs1 + b"\x00")},
    {"name": "EC SPKI, length in two bytes where one would do",
     "pem": pem("PUBLIC KEY", b"\x30\x81\x59" + ec_spki[2:])},
    {"name": "RSA SPKI, length in three bytes where two would do",
     "pem": pem("PUBLIC KEY", b"\x30\x83\x00\x01\x22" + rsa_spki[4:])},
    {"name": "SPKI under the PKCS#1 label", "pem": pem("RSA PUBLIC KEY", rsa_spki)},
    {"name": "PKCS#1 under the SPKI label", "pem": pem("PUBLIC KEY", rsa_pkcs1)},
    {"name": "compressed P-256 point", "pem": pem("PUBLIC KEY", compressed_spki)},
    {"name": "P-384 key", "pem": pem("PUBLIC KEY", spki_der(
        ec.generate_private_key(ec.SECP384R1()).public_key()))},
    {"name": "1024-bit RSA key", "pem": pem("PUBLIC KEY", spki_der(
        rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()))},
    {"name": "PKCS#8 private key", "pem": ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode(), "private": True},
    {"name": "traditional RSA private key", "pem": rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode(), "private": True},
]

# DER ECDSA signatures (what AWS KMS returns), from `cryptography`: some with a 33-byte r
# (leading zero) and some with a short r or s, to exercise the padding both ways.
der_signatures = []
want = {"long": 2, "short": 1, "plain": 2}
while any(want.values()):
    message = f"{segment({'alg': 'ES256', 'kid': EC_KID})}.{segment(claims(n=len(der_signatures)))}"
    der = ec_key.sign(message.encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    lengths = {(r.bit_length() + 7) // 8, (s.bit_length() + 7) // 8}
    high_bit = r.bit_length() == 256 or s.bit_length() == 256
    kind = "short" if min(lengths) < 32 else "long" if high_bit else "plain"
    if want[kind]:
        want[kind] -= 1
        der_signatures.append({"kind": kind, "signing_input": message, "der": b64(der)})

vectors = {
    "generator": f"PyJWT {jwt.__version__}, cryptography {cryptography.__version__}",
    "now": NOW,
    "project": PROJECT,
    "jwks": {"keys": [ec_jwk, rsa_jwk]},
    "ec_public_pem": pem("PUBLIC KEY", ec_spki),
    "rsa_public_pem": pem("PUBLIC KEY", rsa_spki),
    "rsa_pkcs1_pem": pem("RSA PUBLIC KEY", rsa_pkcs1),
    "private_ec_jwk": private_ec_jwk,
    "valid": valid,
    "invalid": invalid,
    "bad_pems": bad_pems,
    "der_signatures": der_signatures,
}
out = pathlib.Path(__file__).with_name("vectors.json")
out.write_text(json.dumps(vectors, indent=1) + "\n")
print(f"wrote {out}")
