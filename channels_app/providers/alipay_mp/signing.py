"""Alipay open platform RSA2 signing (the gateway's "SHA256WithRSA" over the sorted
`key=value&…` string of every non-empty parameter but `sign`), and the check of the
signature Alipay puts on its answers (over the exact text of the `<method>_response`
object). Keys are PEM, or the bare base64 body Alipay's key tool prints."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class KeyInvalid(ValueError):
    pass


def _pem(value: str, kind: str) -> bytes:
    text = value.strip()
    if text.startswith("-----BEGIN"):
        return text.encode()
    body = "".join(text.split())
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----\n".encode()


def private_key(value: str) -> rsa.RSAPrivateKey:
    """The app's private key: PKCS#8 ("PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY")."""
    for kind in ("PRIVATE KEY", "RSA PRIVATE KEY"):
        try:
            key = serialization.load_pem_private_key(_pem(value, kind), password=None)
        except (ValueError, TypeError):
            continue
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
            return key
        raise KeyInvalid("an RSA key of at least 2048 bits is required (RSA2)")
    raise KeyInvalid("not an RSA private key (PEM or its base64 body)")


def public_key(value: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(_pem(value, "PUBLIC KEY"))
    except (ValueError, TypeError):
        raise KeyInvalid("not an RSA public key (PEM or its base64 body)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyInvalid("not an RSA public key")
    return key


def content_to_sign(params: dict[str, str]) -> bytes:
    pairs = sorted((k, v) for k, v in params.items() if k != "sign" and v not in ("", None))
    return "&".join(f"{k}={v}" for k, v in pairs).encode()


def sign(params: dict[str, str], key: rsa.RSAPrivateKey) -> str:
    return sign_bytes(content_to_sign(params), key)


def sign_bytes(data: bytes, key: rsa.RSAPrivateKey) -> str:
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(data: bytes, signature: str, key: rsa.RSAPublicKey) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def response_section(text: str, method: str) -> tuple[bytes, dict[str, Any]]:
    """The exact bytes of the `<method>_response` value (what Alipay signed) and its parse."""
    name = '"' + method.replace(".", "_") + '_response"'
    start = text.find(name)
    if start < 0:
        raise ValueError("no response object")
    colon = text.index(":", start + len(name))
    begin = colon + 1
    while text[begin].isspace():
        begin += 1
    value, end = json.JSONDecoder().raw_decode(text, begin)
    if not isinstance(value, dict):
        raise ValueError("the response object is not an object")
    return text[begin:end].encode(), value
