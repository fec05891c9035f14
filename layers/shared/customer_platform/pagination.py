"""Opaque, tamper-checked pagination tokens.

A token is `base64url(payload) "." base64url(HMAC-SHA256(key, payload))`. The payload names
the list it belongs to and the id after which the next page starts; the HMAC, keyed by a
secret from Secrets Manager, means a client can hand back only tokens this API issued. A
token from another list, a truncated one or an edited one is a 400, never a query built
from client input.
"""

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable

from customer_platform import secrets
from customer_platform.errors import BadRequest

MAX_TOKEN_LENGTH = 512
# The key changes only when an operator rotates it: an hour of caching costs one Secrets
# Manager call per hour per environment, and a rotation invalidates outstanding tokens (a
# 400; the client restarts its listing) within that hour.
KEY_MAX_AGE = 3600
_VERSION = 1


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokenCodec:
    """Encodes and verifies tokens for one list (`scope`, e.g. "dynamodb/customers")."""

    def __init__(self, scope: str, key: Callable[[], bytes]) -> None:
        self._scope = scope
        self._key = key  # called per use: the key provider caches and may rotate

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key(), payload, hashlib.sha256).digest()

    def encode(self, after: str) -> str:
        payload = json.dumps(
            {"v": _VERSION, "s": self._scope, "a": after}, separators=(",", ":")
        ).encode()
        return f"{_b64encode(payload)}.{_b64encode(self._mac(payload))}"

    def decode(self, token: str) -> str:
        """The `after` id carried by `token`; BadRequest unless this codec issued it."""
        invalid = BadRequest("nextToken is malformed or was not issued by this API")
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise invalid
        payload_part, mac_part = token.split(".")
        try:
            payload, mac = _b64decode(payload_part), _b64decode(mac_part)
        except (binascii.Error, ValueError):
            raise invalid from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise invalid
        body = json.loads(payload)  # signed by us, so well-formed
        if body.get("v") != _VERSION or body.get("s") != self._scope:
            raise invalid
        after = body.get("a")
        if not isinstance(after, str):
            raise invalid
        return after


def secret_keyed_codec(scope: str, secret_arn: str) -> PageTokenCodec:
    """A codec whose HMAC key is the Secrets Manager secret `secret_arn` (cached)."""

    def key() -> bytes:
        return secrets.get_secret(secret_arn, max_age=KEY_MAX_AGE).encode()

    return PageTokenCodec(scope, key)
