"""The SSRF guard: which hosts and addresses an outbound page fetch may reach.

Every URL that comes from outside (search results, users, sitemaps, each redirect hop) is checked
twice: early, on the URL as written (scheme, and a literal IP in any notation a resolver
accepts: ``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``...), and at connect
time, on every address the host name resolves to. The transport connects only to an address
vetted here, so a name that resolves to a private address, or rebinds between two lookups,
cannot slip through.

Refused: loopback, private, shared (100.64/10), link-local, multicast, unspecified, reserved and
documentation ranges, cloud metadata endpoints, and IPv6 forms that embed such an IPv4 address
(mapped, compatible, SIIT, 6to4, NAT64). A name that resolves to several addresses is refused when
any of them is refused. ``allow_hosts`` admits host names (exact, or ``*.example.com`` /
``.example.com`` for subdomains), IPs and CIDRs: a name entry admits the host whatever it resolves
to, an IP or CIDR entry admits the addresses it covers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

import httpx

from searchqa.errors import InvalidRequestError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata.goog"})
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)

_V4_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("100.64.0.0/10", "shared"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
    ("192.0.0.0/24", "reserved"),
    ("192.88.99.0/24", "reserved"),
    ("198.18.0.0/15", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
)
_V6_RANGES: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fe80::/10", "link-local"),
    ("fc00::/7", "private"),
    ("fec0::/10", "private"),
    ("ff00::/8", "multicast"),
    ("64:ff9b:1::/48", "reserved"),
    ("100::/64", "reserved"),
    ("2001::/23", "reserved"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
)
_BLOCKED_RANGES: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), category) for cidr, category in _V4_RANGES + _V6_RANGES
)
# IPv6 prefixes whose low 32 bits (or bits 16-48 for 6to4) carry an IPv4 address that is reached.
_EMBEDDING_V4_LOW32 = tuple(
    ipaddress.IPv6Network(cidr)
    for cidr in ("::ffff:0:0/96", "::/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_IPV4_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")


class BlockedURLError(InvalidRequestError):
    """A URL or address the SSRF guard refuses to fetch."""

    code = "blocked_url"


def blocked_category(address: IPAddress) -> str | None:
    """Why ``address`` must not be reached (``"loopback"``, ``"metadata"``...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_v4(address)
        if embedded is not None:
            return blocked_category(embedded)
    if address in METADATA_ADDRESSES:
        return "metadata"
    for network, category in _BLOCKED_RANGES:
        if address.version == network.version and address in network:
            return category
    return None if address.is_global else "reserved"


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    if int(address) <= 1:  # :: and ::1 are themselves, not IPv4-compatible addresses
        return None
    for network in _EMBEDDING_V4_LOW32:
        if address in network:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def parse_ip_host(host: str) -> IPAddress | None:
    """The address a host literal denotes in any notation a resolver accepts, or None for a name.

    IPv4 follows the URL standard (and ``inet_aton``): one to four dot-separated parts, each
    decimal, ``0x`` hex or ``0``-prefixed octal, the last filling the remaining bytes. A host whose
    last label is numeric but that is not a valid address raises ValueError.
    """
    host = host.strip("[]")
    if ":" in host:
        return ipaddress.IPv6Address(host.split("%")[0])
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not _IPV4_PART.match(labels[-1]):
        return None
    if len(labels) > 4 or not all(_IPV4_PART.match(label) for label in labels):
        raise ValueError(f"{host!r} is neither a host name nor an IP address")
    numbers = [_parse_ipv4_part(label) for label in labels]
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise ValueError(f"{host!r} is out of range for an IPv4 address")
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(leading))
    return ipaddress.IPv4Address(value)


def _parse_ipv4_part(label: str) -> int:
    if label[:2].lower() == "0x":
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        if not set(label) <= set("01234567"):
            raise ValueError(f"{label!r} is not a valid octal IPv4 part")
        return int(label, 8)
    return int(label, 10)


def _normalize_name(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class AddressGuard:
    """Decides whether a URL, a host or a resolved address may be fetched."""

    def __init__(self, allow_hosts: Sequence[str] = ()) -> None:
        self._names: set[str] = set()
        self._suffixes: list[str] = []
        self._networks: list[IPNetwork] = []
        for entry in allow_hosts:
            name = _normalize_name(entry)
            if not name:
                continue
            try:
                self._networks.append(ipaddress.ip_network(name, strict=False))
            except ValueError:
                if name.startswith(("*.", ".")):
                    self._suffixes.append("." + name.lstrip("*."))
                else:
                    self._names.add(name)

    def allows_name(self, host: str) -> bool:
        """Whether ``host`` (as written in the URL) is admitted by name, whatever it resolves to."""
        name = _normalize_name(host)
        return name in self._names or name.endswith(tuple(self._suffixes))

    def _allows_address(self, address: IPAddress) -> bool:
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and (v4 := _embedded_v4(address)):
            candidates.append(v4)
        return any(
            ip.version == net.version and ip in net for ip in candidates for net in self._networks
        )

    def check_url(self, url: str) -> None:
        """Refuse a non-http(s) URL or one whose host is a refused literal IP or known name."""
        try:
            parts = urlsplit(url.strip())
            scheme = parts.scheme.lower()
            written_host = unquote(parts.hostname or "")
        except ValueError as exc:
            raise BlockedURLError(f"refused {url!r}: not a valid URL ({exc})") from exc
        if scheme not in ALLOWED_SCHEMES:
            raise BlockedURLError(f"refused {url!r}: only http and https URLs are fetched")
        if not written_host:
            raise BlockedURLError(f"refused {url!r}: the URL has no host")
        self.check_host(written_host, url=url)
        try:  # the transport's own parser must agree: check the host it will connect to as well
            parsed_host = unquote(httpx.URL(url.strip()).raw_host.decode("ascii"))
        except (httpx.InvalidURL, UnicodeDecodeError) as exc:
            raise BlockedURLError(f"refused {url!r}: not a valid URL ({exc})") from exc
        if parsed_host != written_host:
            self.check_host(parsed_host, url=url)

    def check_host(self, host: str, *, url: str | None = None) -> None:
        """Refuse a host that is a refused literal IP (any notation) or a metadata name."""
        if self.allows_name(host):
            return
        name = _normalize_name(host)
        where = repr(url) if url is not None else name
        if name in METADATA_HOSTS:
            raise BlockedURLError(f"refused {where}: {name} is a cloud metadata endpoint")
        try:
            address = parse_ip_host(name)
        except ValueError as exc:
            raise BlockedURLError(f"refused {where}: {exc}") from exc
        if address is not None:
            self._check_ip(host, address, where=where, resolved=False)

    def check_address(self, host: str, address: str) -> None:
        """Refuse ``address`` (one that ``host`` resolved to) unless it is public or allowed."""
        ip = ipaddress.ip_address(address.split("%")[0])
        self._check_ip(host, ip, where=_normalize_name(host), resolved=True)

    def _check_ip(self, host: str, ip: IPAddress, *, where: str, resolved: bool) -> None:
        category = blocked_category(ip)
        if category is None or self.allows_name(host) or self._allows_address(ip):
            return
        name = _normalize_name(host)
        subject = "it" if where == name else name
        verb = "resolves to" if resolved else "means"
        what = f"{subject} {verb} {ip}," if name != str(ip) else ""
        if isinstance(ip, ipaddress.IPv6Address) and (v4 := _embedded_v4(ip)):
            what = f"{what or subject} embeds {v4},"
        what = what or f"{subject} is"
        article = "an" if category[0] in "aeiou" else "a"
        raise BlockedURLError(
            f"refused {where}: {what} {article} {category} address "
            "(list it in fetch.allow_hosts to admit it on purpose)"
        )

    async def resolve(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return its addresses, all vetted; raise BlockedURLError if any
        is refused. A name that does not resolve raises OSError (socket.gaierror)."""
        self.check_host(host)
        try:
            literal = parse_ip_host(_normalize_name(host))
        except ValueError:
            literal = None  # admitted by name: let the resolver decide what it means
        if literal is not None:
            return [str(literal)]
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} has no addresses")
        for address in addresses:
            self.check_address(host, address)
        return addresses
