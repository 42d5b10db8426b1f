"""The SSRF guard: every notation of a refused address is refused, public ones pass."""

from __future__ import annotations

import socket

import pytest

from searchqa.errors import InvalidRequestError
from searchqa.net.guard import AddressGuard, BlockedURLError, parse_ip_host

REFUSED_URLS = {
    # scheme
    "ftp://example.com/file": "only http and https",
    "file:///etc/passwd": "only http and https",
    "gopher://example.com/": "only http and https",
    "javascript:alert(1)": "only http and https",
    "http:///no-host": "no host",
    # IPv4 loopback in every notation
    "http://127.0.0.1/": "loopback",
    "http://127.0.0.1./": "loopback",
    "http://2130706433/": "loopback",
    "http://0x7f000001/": "loopback",
    "http://0x7f.0.0.1/": "loopback",
    "http://0x7F.0x0.0x0.0x1/": "loopback",
    "http://0177.0.0.1/": "loopback",
    "http://017700000001/": "loopback",
    "http://127.1/": "loopback",
    "http://127.0.1/": "loopback",
    "http://0x7f.1/": "loopback",
    "http://%31%32%37.0.0.1/": "loopback",
    "http://evil.example\\@127.0.0.1/": "loopback",
    # other refused IPv4 ranges
    "http://0.0.0.0/": "unspecified",
    "http://0/": "unspecified",
    "http://0x/": "unspecified",
    "http://10.1.2.3/": "private",
    "http://172.16.0.1/": "private",
    "http://192.168.1.1:8080/admin": "private",
    "http://100.64.0.1/": "shared",
    "http://169.254.1.1/": "link-local",
    "http://169.254.169.254/latest/meta-data/": "metadata",
    "http://2852039166/": "metadata",  # 169.254.169.254 as one number
    "http://224.0.0.1/": "multicast",
    "http://255.255.255.255/": "broadcast",
    "http://240.0.0.1/": "reserved",
    "http://198.18.0.1/": "reserved",
    "http://192.0.2.1/": "documentation",
    # IPv6 and IPv4 embedded in IPv6
    "http://[::1]/": "loopback",
    "http://[::1]:8080/": "loopback",
    "http://[0:0:0:0:0:0:0:1]/": "loopback",
    "http://[::]/": "unspecified",
    "http://[::ffff:127.0.0.1]/": "loopback",
    "http://[::ffff:7f00:1]/": "loopback",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/": "loopback",
    "http://[::127.0.0.1]/": "loopback",
    "http://[::ffff:0:127.0.0.1]/": "loopback",
    "http://[::ffff:169.254.169.254]/": "metadata",
    "http://[::ffff:10.0.0.1]/": "private",
    "http://[2002:7f00:1::]/": "loopback",
    "http://[2002:a9fe:a9fe::1]/": "metadata",
    "http://[64:ff9b::7f00:1]/": "loopback",
    "http://[64:ff9b::169.254.169.254]/": "metadata",
    "http://[64:ff9b:1::1]/": "reserved",
    "http://[fe80::1]/": "link-local",
    "http://[fe80::1%25eth0]/": "link-local",
    "http://[febf::1]/": "link-local",
    "http://[fc00::1]/": "private",
    "http://[fd12:3456::1]/": "private",
    "http://[fd00:ec2::254]/": "metadata",
    "http://[ff02::1]/": "multicast",
    "http://[2001:db8::1]/": "documentation",
    # names refused without resolving
    "http://metadata.google.internal/computeMetadata/v1/": "metadata",
    "http://METADATA.GOOGLE.INTERNAL./": "metadata",
    # malformed numeric hosts that resolvers read in surprising ways
    "http://1.2.3.4.5/": "neither a host name",
    "http://08.0.0.1/": "octal",
    "http://256.0.0.1/": "out of range",
    "http://[::1/": "not a valid URL",
}


@pytest.mark.parametrize(("url", "why"), REFUSED_URLS.items())
def test_refused_urls_give_a_clear_early_error(url: str, why: str) -> None:
    with pytest.raises(BlockedURLError) as caught:
        AddressGuard().check_url(url)
    assert why in str(caught.value)
    assert caught.value.code == "blocked_url"
    assert isinstance(caught.value, InvalidRequestError)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "HTTP://Example.COM/path?q=1#frag",
        "http://8.8.8.8/",
        "http://134744072/",  # 8.8.8.8 as one number
        "http://0x08080808/",
        "http://1.1/",  # 1.0.0.1
        "http://[2606:4700:4700::1111]/",
        "http://[::ffff:8.8.8.8]/",
        "http://[2002:808:808::1]/",  # 6to4 of 8.8.8.8
        "http://[64:ff9b::8.8.8.8]/",
        "https://xn--fiqs8s.example/",
        "http://localhost/",  # a name: refused when it resolves, not before
        "http://1.2.3.example.com/",
    ],
)
def test_public_urls_pass_the_early_check(url: str) -> None:
    AddressGuard().check_url(url)


@pytest.mark.parametrize(
    ("allow_hosts", "url"),
    [
        (["127.0.0.1"], "http://127.0.0.1:8080/"),
        (["127.0.0.1"], "http://2130706433/"),  # the allow-list matches the address, not the text
        (["127.0.0.1"], "http://[::ffff:127.0.0.1]/"),
        (["10.0.0.0/8"], "http://10.20.30.40/"),
        (["[::1]"], "http://[::1]/"),
        (["fd00::/8"], "http://[fd00::5]/"),
        (["intranet.corp"], "http://intranet.corp/wiki"),
        (["Intranet.Corp."], "http://INTRANET.corp/wiki"),
        (["*.corp"], "http://wiki.intranet.corp/"),
        ([".corp"], "http://wiki.corp/"),
        (["metadata.google.internal"], "http://metadata.google.internal/"),
    ],
)
def test_allow_hosts_admits_names_ips_and_cidrs(allow_hosts: list[str], url: str) -> None:
    AddressGuard(allow_hosts).check_url(url)


@pytest.mark.parametrize(
    ("allow_hosts", "url"),
    [
        (["127.0.0.1"], "http://127.0.0.2/"),
        (["10.0.0.0/16"], "http://10.1.0.1/"),
        (["intranet.corp"], "http://127.0.0.1/"),
        (["*.corp"], "http://10.0.0.1/"),
        (["*.corp"], "http://corp.evil.example.127.0.0.1/"),
    ],
)
def test_allow_hosts_admits_nothing_else(allow_hosts: list[str], url: str) -> None:
    with pytest.raises(BlockedURLError):
        AddressGuard(allow_hosts).check_url(url)


def test_without_allow_list_the_test_servers_address_is_refused() -> None:
    with pytest.raises(BlockedURLError, match="loopback"):
        AddressGuard().check_url("http://127.0.0.1:8765/pages/english")
    AddressGuard(["127.0.0.1"]).check_url("http://127.0.0.1:8765/pages/english")


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("93.184.216.34", False),
        ("2606:2800:220:1:248:1893:25c8:1946", False),
        ("10.0.0.5", True),
        ("127.0.0.53", True),
        ("169.254.169.254", True),
        ("::ffff:192.168.0.1", True),
        ("fe80::1%2", True),
    ],
)
def test_check_address_vets_one_resolved_address(address: str, refused: bool) -> None:
    guard = AddressGuard()
    if refused:
        with pytest.raises(BlockedURLError, match=r"refused example\.com: it resolves to"):
            guard.check_address("example.com", address)
    else:
        guard.check_address("example.com", address)


async def test_a_name_that_resolves_to_loopback_is_refused_at_resolution() -> None:
    with pytest.raises(BlockedURLError, match=r"resolves to 127\.0\.0\.1, a loopback address"):
        await AddressGuard().resolve("localhost", 80)


async def test_resolve_admits_allowed_names_and_addresses() -> None:
    assert "127.0.0.1" in await AddressGuard(["localhost"]).resolve("localhost", 80)
    assert "127.0.0.1" in await AddressGuard(["127.0.0.0/8"]).resolve("localhost", 80)


async def test_resolve_returns_the_address_a_numeric_host_denotes() -> None:
    # the connection must go to what was vetted, not to a second reading of the text
    assert await AddressGuard(["127.0.0.1"]).resolve("0x7f.1", 80) == ["127.0.0.1"]
    assert await AddressGuard().resolve("134744072", 80) == ["8.8.8.8"]
    with pytest.raises(BlockedURLError):
        await AddressGuard().resolve("017700000001", 80)


async def test_an_unresolvable_name_is_an_os_error_not_a_block() -> None:
    with pytest.raises(socket.gaierror):
        await AddressGuard().resolve("no-such-host.invalid", 80)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("example.com", None),
        ("1.2.3.example", None),
    ],
)
def test_parse_ip_host_reads_numbers_as_resolvers_do(host: str, address: str | None) -> None:
    parsed = parse_ip_host(host)
    assert (str(parsed) if parsed is not None else None) == address
    if address is not None and ":" not in host:
        # glibc's inet_aton agrees with the URL standard on these forms
        assert socket.inet_ntoa(socket.inet_aton(host)) == address
