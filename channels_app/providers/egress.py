"""The one egress policy: where Tidings may open a connection on an App's behalf.

Every outbound destination an App can influence (account base_url and URL/host config,
webhook and status-callback URLs, Apprise URLs, SMTP hosts, attachment URLs) goes through
`egress_resolve`: the host is resolved once, every address it resolves to must be public
(not loopback, private, CGNAT, link-local, multicast, unspecified or reserved, also when
hidden in IPv4-mapped/NAT64/6to4/Teredo IPv6), and the caller connects to the address that
was checked, so a second DNS answer cannot point it inward (DNS rebinding).

Only the operator opens it, with `TIDINGS_EGRESS_ALLOWLIST` (environment, comma-separated
hosts, `host:port`, IPs or CIDRs); nothing an App sends can.

Checked twice: when the destination is saved (`egress_validate_url` / `egress_validate_host`,
a 400 naming the field) and before every connection (`egress_resolve`, raising
EgressDenied, which adapters turn into a permanent DeliveryError `egress_denied`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from channels_app.providers.base import DeliveryError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HTTP_SCHEMES = ("http", "https")
# NAT64 embeds an IPv4 address in the last 32 bits; 64:ff9b::127.0.0.1 is loopback in disguise.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# inet_aton's forms: 2130706433, 0x7f.1, 017700000001, 127.1 - all 127.0.0.1 to the resolver.
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)
# RFC 6761: these names are loopback whatever a resolver says.
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class EgressDenied(Exception):
    """A destination the policy refuses; the text names the host and address, never a URL."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class EgressUnresolved(Exception):
    """The host does not resolve (now): not a policy decision, a retry may work."""


@dataclass(frozen=True)
class Destination:
    host: str  # as the caller named it (lower case, no brackets)
    port: int
    address: str  # the checked IP to connect to


# --- classification -------------------------------------------------------------------------


# The checks below are pure functions of their arguments and ran for every provider request
# (a tenth of a worker's CPU with 64 calls in flight): their verdicts are cached. Names are
# never cached: they are resolved at every request.
@lru_cache(maxsize=4096)
def address_problem(ip: IPAddress) -> str:
    """Why `ip` is not a public destination ("" when it is)."""
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        # Mapped and NAT64 addresses are judged by the IPv4 address they carry (their
        # prefixes count as "reserved", which would refuse every site behind DNS64).
        if ip.ipv4_mapped:
            candidates = [ip.ipv4_mapped]
        elif any(ip in network for network in _NAT64):
            candidates = [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
        if ip.sixtofour:
            candidates.append(ip.sixtofour)
        if ip.teredo:
            candidates.extend(ip.teredo)
    for c in candidates:
        for flag, label in (
            ("is_unspecified", "unspecified"),
            ("is_loopback", "loopback"),
            ("is_link_local", "link-local"),
            ("is_multicast", "multicast"),
            ("is_private", "private"),
            ("is_reserved", "reserved"),
        ):
            if getattr(c, flag):
                return label
        if not c.is_global:  # 100.64/10 (CGNAT), 192.0.0/24, benchmarking ranges...
            return "non-public"
    return ""


def is_public_address(address: str) -> bool:
    return not address_problem(ipaddress.ip_address(address.split("%", 1)[0]))


@lru_cache(maxsize=4096)
def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host string denotes by itself, including inet_aton's legacy IPv4
    spellings (decimal, octal, hex, short forms), or None for a name."""
    host = host.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _is_local_name(host: str) -> bool:
    return host in _LOCAL_NAMES or host.endswith(".localhost")


# --- the operator's allowlist ---------------------------------------------------------------


@dataclass(frozen=True)
class _Allowlist:
    hosts: frozenset[tuple[str, int | None]]
    networks: tuple[tuple[IPNetwork, int | None], ...]

    def allows_host(self, host: str, port: int) -> bool:
        return (host, None) in self.hosts or (host, port) in self.hosts

    def allows_address(self, ip: IPAddress, port: int) -> bool:
        return _allowlist_allows_address(self, ip, port)


@lru_cache(maxsize=4096)
def _allowlist_allows_address(allowlist: _Allowlist, ip: IPAddress, port: int) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(
        ip.version == net.version and ip in net and allowed_port in (None, port)
        for net, allowed_port in allowlist.networks
    )


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [::1] or [::1]:8080
        host, _, rest = entry[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError
        return host, int(rest[1:]) if rest else None
    if entry.count(":") == 1:  # host:port, 10.0.0.1:8080
        host, _, port = entry.partition(":")
        return host, int(port)
    return entry, None  # host, IPv4, bare IPv6, CIDR


@lru_cache(maxsize=8)
def _parse_allowlist(entries: tuple[str, ...]) -> _Allowlist:
    hosts: set[tuple[str, int | None]] = set()
    networks: list[tuple[IPNetwork, int | None]] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            host, port = _split_port(entry)
            if port is not None and not 0 < port < 65536:
                raise ValueError
            if "/" in host:
                networks.append((ipaddress.ip_network(host, strict=False), port))
                continue
            ip = parse_ip_literal(host)
            if ip is not None:
                networks.append((ipaddress.ip_network(ip), port))
            elif re.fullmatch(r"[a-z0-9_.-]+", _normalize_host(host)):
                hosts.add((_normalize_host(host), port))
            else:
                raise ValueError
        except ValueError:
            raise ImproperlyConfigured(
                f"TIDINGS_EGRESS_ALLOWLIST: {entry!r} is not a host, host:port, IP or CIDR"
            ) from None
    return _Allowlist(frozenset(hosts), tuple(networks))


def egress_allowlist() -> _Allowlist:
    """Read at every call, so a settings override (tests) takes effect at once."""
    value = getattr(settings, "TIDINGS_EGRESS_ALLOWLIST", ())
    if isinstance(value, str):
        value = value.split(",")
    return _parse_allowlist(tuple(value))


# --- the checks -----------------------------------------------------------------------------


def _addresses(host: str, port: int) -> list[IPAddress]:
    literal = parse_ip_literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise EgressUnresolved(f"cannot resolve host {host!r}") from None
    addresses = list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
    )
    if not addresses:
        raise EgressUnresolved(f"cannot resolve host {host!r}")
    return addresses


def egress_resolve(host: str, port: int) -> Destination:
    """Resolve `host` once and return the address to connect to; raises EgressDenied when
    the policy refuses it and EgressUnresolved when it does not resolve."""
    name = _normalize_host(host)
    if not name:
        raise EgressDenied("refused: no host")
    allowlist = egress_allowlist()
    by_name = allowlist.allows_host(name, port)
    if not by_name and _is_local_name(name):
        raise EgressDenied(f"refused: {name!r} is a loopback name")
    addresses = _addresses(name, port)
    if not by_name:
        # Every answer must pass: the OS could otherwise pick the internal one.
        for ip in addresses:
            problem = address_problem(ip)
            if problem and not allowlist.allows_address(ip, port):
                where = f"{ip} is" if str(ip) == name else f"{name!r} is {ip},"
                article = "an" if problem[0] in "aeiou" else "a"
                raise EgressDenied(f"refused: {where} {article} {problem} address")
    return Destination(host=name, port=port, address=str(addresses[0]))


def _url_parts(url: str, schemes: tuple[str, ...]) -> tuple[str, int]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise EgressDenied("refused: not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise EgressDenied(f"refused: only {' and '.join(schemes)} URLs")
    if not parts.hostname:
        raise EgressDenied("refused: URL has no host")
    return parts.hostname, port or (443 if scheme == "https" else 80)


def egress_check_url(url: str, schemes: tuple[str, ...] = HTTP_SCHEMES) -> Destination:
    """egress_resolve for a URL; also refuses schemes other than http(s)."""
    host, port = _url_parts(url, schemes)
    return egress_resolve(host, port)


def egress_delivery_error(exc: EgressDenied | EgressUnresolved, what: str = "") -> DeliveryError:
    """The DeliveryError a send fails with: refusals are permanent, lookups transient."""
    prefix = f"{what}: " if what else ""
    if isinstance(exc, EgressUnresolved):
        return DeliveryError(f"{prefix}{exc}", code="connection")
    return DeliveryError(f"{prefix}egress {exc.reason}", permanent=True, code="egress_denied")


# --- save-time validation -------------------------------------------------------------------


def egress_save_problem(host: str, port: int) -> str:
    """Why a destination cannot be saved ("" when it can). A name that does not resolve yet
    is accepted: it is checked again before every connection."""
    try:
        egress_resolve(host, port)
    except EgressDenied as exc:
        return f"egress {exc.reason}"
    except EgressUnresolved:
        return ""
    return ""


def egress_url_problem(url: str, schemes: tuple[str, ...] = HTTP_SCHEMES) -> str:
    try:
        host, port = _url_parts(url, schemes)
    except EgressDenied as exc:
        return f"egress {exc.reason}"
    return egress_save_problem(host, port)


def validate_egress_url(value: str) -> str:
    """DRF field validator for a URL the platform will call (webhook, base_url, callback)."""
    if value and (problem := egress_url_problem(value)):
        raise serializers.ValidationError(problem)
    return value
