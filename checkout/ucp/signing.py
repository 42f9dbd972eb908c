"""The business's signing key (ES256): published in the profile's `signing_keys`, used to sign
order webhooks as detached JWTs (RFC 7797) in the Request-Signature header (order.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

# The order of the P-256 group: a derived secret is reduced into [1, n-1].
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    private: ec.EllipticCurvePrivateKey
    kid: str

    @classmethod
    def derived_from(cls, secret: str) -> SigningKey:
        """One key per deployment secret, the same in every worker and across restarts."""
        seed = hmac.new(secret.encode(), b"ucp-signing-key", hashlib.sha256).digest()
        private = ec.derive_private_key(
            int.from_bytes(seed, "big") % (P256_ORDER - 1) + 1, ec.SECP256R1()
        )
        numbers = private.public_key().public_numbers()
        kid = hashlib.sha256(f"{numbers.x}:{numbers.y}".encode()).hexdigest()[:16]
        return cls(private, kid)

    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kid": self.kid,
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
            "use": "sig",
            "alg": "ES256",
        }

    def detached_jws(self, payload: bytes) -> str:
        """`header..signature` over the unencoded payload (b64=false, RFC 7797)."""
        header = b64url(
            json.dumps(
                {"alg": "ES256", "kid": self.kid, "b64": False, "crit": ["b64"]},
                separators=(",", ":"),
            ).encode()
        )
        der = self.private.sign(header.encode() + b"." + payload, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{header}..{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"
