"""The WeChat "server URL" (服务器地址) protocol, shared by official accounts and mini programs:
how WeChat pushes events to the account's URL and how the URL proves it is ours.

- GET ?signature&timestamp&nonce&echostr: URL verification; answer the echostr when
  sha1(sorted(token, timestamp, nonce)) matches (official accounts send it plain in every
  mode; an encrypted echostr comes with msg_signature over it too, and is answered decrypted).
- POST: an event as XML (official accounts; mini programs may choose JSON). Plain mode is
  signed with `signature`; safe mode (安全模式) carries `Encrypt` and `msg_signature` =
  sha1(sorted(token, timestamp, nonce, Encrypt)), and Encrypt is
  base64(AES-256-CBC(key, iv=key[:16], PKCS#7 to 32 bytes of
  random(16) + len(msg) as 4 bytes network order + msg + appid)), key = base64(EncodingAESKey + "=").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
import time
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.http import HttpRequest
from django.utils import timezone

from channels_app.providers.receipts import ReceiptRejected

BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16
# WeChat retries a push 3 times within 15 s; a timestamp older than this is a replay.
MAX_SKEW_SECONDS = 300


class CryptoError(ValueError):
    pass


def signature(*parts: str) -> str:
    """sha1 of the parts sorted as strings and joined: token, timestamp, nonce[, Encrypt]."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's


def aes_key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except ValueError:
        raise CryptoError("encoding_aes_key is not base64") from None
    if len(key) != 32:
        raise CryptoError("encoding_aes_key must decode to 32 bytes (43 characters)")
    return key


def encrypt(encoding_aes_key: str, appid: str, message: bytes, random: bytes = b"") -> str:
    key = aes_key(encoding_aes_key)
    plain = (random or os.urandom(16)) + struct.pack(">I", len(message)) + message + appid.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(encoding_aes_key: str, appid: str, encrypted: str) -> bytes:
    """The message inside `Encrypt`; raises CryptoError when it is not ours."""
    key = aes_key(encoding_aes_key)
    try:
        data = base64.b64decode(encrypted, validate=True)
    except ValueError:
        raise CryptoError("Encrypt is not base64") from None
    if not data or len(data) % 16:
        raise CryptoError("Encrypt is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(data) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise CryptoError("bad padding (wrong encoding_aes_key?)")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise CryptoError("Encrypt is too short")
    (length,) = struct.unpack(">I", plain[16:20])
    message, sender = plain[20 : 20 + length], plain[20 + length :]
    if len(message) != length or not hmac.compare_digest(sender, appid.encode()):
        raise CryptoError("Encrypt is for another appid")
    return message


def parse_fields(body: bytes) -> dict[str, Any]:
    """An event as a dict: XML (child elements; repeated ones become lists) or JSON."""
    text = body.strip()
    if text.startswith(b"{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise ReceiptRejected("body: not valid JSON") from None
        if not isinstance(value, dict):
            raise ReceiptRejected("body: expected a JSON object")
        return value
    # No DTDs: WeChat never sends one, and entities are the XML bomb vector.
    if b"<!DOCTYPE" in text.upper() or b"<!ENTITY" in text.upper():
        raise ReceiptRejected("body: XML with a DOCTYPE is refused")
    try:
        root = ElementTree.fromstring(text)  # noqa: S314 - no DTD (checked above)
    except ElementTree.ParseError:
        raise ReceiptRejected("body: not valid XML or JSON") from None
    fields = _element(root)
    if not isinstance(fields, dict):
        raise ReceiptRejected("body: expected an XML element of fields")
    return fields


def _element(node: ElementTree.Element) -> Any:
    if len(node) == 0:
        return (node.text or "").strip()
    out: dict[str, Any] = {}
    for child in node:
        value = _element(child)
        if child.tag in out:
            previous = out[child.tag]
            out[child.tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[child.tag] = value
    return out


def _credentials(account_config: dict[str, Any]) -> tuple[str, str, str]:
    token = str(account_config.get("token") or "")
    if not token:
        raise ReceiptRejected("this account has no server token configured (config.token)", 403)
    return token, str(account_config.get("encoding_aes_key") or ""), str(account_config["appid"])


def _check(given: str, expected: str, name: str) -> None:
    if not given or not hmac.compare_digest(given.lower(), expected):
        raise ReceiptRejected(f"{name} does not match", status=403)


def _check_timestamp(timestamp: str) -> None:
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise ReceiptRejected("timestamp: missing or more than 5 minutes off", status=403)


def verify_url(request: HttpRequest, account_config: dict[str, Any]) -> str:
    """The GET check WeChat makes when the URL is saved: the echostr (decrypted if sealed)."""
    token, aes, appid = _credentials(account_config)
    query = request.GET
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    echostr = query.get("echostr", "")
    if not echostr:
        raise ReceiptRejected("echostr: required")
    if query.get("msg_signature"):
        _check(query["msg_signature"], signature(token, timestamp, nonce, echostr), "msg_signature")
        if not aes:
            raise ReceiptRejected("safe mode needs config.encoding_aes_key", status=403)
        try:
            return decrypt(aes, appid, echostr).decode()
        except (CryptoError, UnicodeDecodeError) as error:
            raise ReceiptRejected(f"echostr: {error}", status=403) from None
    _check(query.get("signature", ""), signature(token, timestamp, nonce), "signature")
    return echostr


def pushed_event(request: HttpRequest, account_config: dict[str, Any]) -> dict[str, Any]:
    """A POSTed event, authenticated (and decrypted in safe mode), as a dict of its fields."""
    token, aes, appid = _credentials(account_config)
    query = request.GET
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    # Plain and compatible mode carry `signature` over the token; check it whenever present.
    if query.get("signature"):
        _check(query["signature"], signature(token, timestamp, nonce), "signature")
    fields = parse_fields(request.body or b"")
    encrypted = fields.get("Encrypt")
    if encrypted:
        if not isinstance(encrypted, str):
            raise ReceiptRejected("Encrypt: expected a string")
        _check(
            query.get("msg_signature", ""),
            signature(token, timestamp, nonce, encrypted),
            "msg_signature",
        )
        if not aes:
            raise ReceiptRejected("safe mode needs config.encoding_aes_key", status=403)
        try:
            fields = parse_fields(decrypt(aes, appid, encrypted))
        except CryptoError as error:
            raise ReceiptRejected(f"Encrypt: {error}", status=403) from None
    elif not query.get("signature"):
        raise ReceiptRejected("signature: required", status=403)
    _check_timestamp(timestamp)
    return fields


ANSWER = "success"


def event_time(fields: dict[str, Any]) -> datetime:
    """When the receipt arrived. CreateTime counts whole seconds, so for a quick receipt it
    falls before the SENT event of the same second and the trace would read backwards; and it
    is the sender's word, not checked by the signature's timestamp. WeChat pushes at once
    (its retries end 15 s later), so arrival is as exact as anything WeChat says."""
    return timezone.now()
