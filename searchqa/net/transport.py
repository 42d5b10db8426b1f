"""An httpx client whose every connection goes through the SSRF guard.

Direct connections: the network backend resolves the host through ``AddressGuard.resolve`` and
dials one of the vetted addresses itself, so what is checked is what is connected to. TLS still
verifies the certificate against, and sends SNI for, the host name of the URL.

Proxies: ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` (http or https proxy URLs) and
``NO_PROXY`` (names, ``.suffix`` entries, IPs, CIDRs, ``*``) are read when the client is built.
The proxy itself is a configured endpoint and is not guarded. Through a proxy the guard cannot
see the address the proxy will connect to, so it resolves the target itself and refuses the
request before sending it when any resolved address is refused. Trade-off: the proxy resolves the
name again, and a rebinding DNS server could answer it differently; literal and locally resolved
private targets are still refused, and a target that does not resolve here is refused too (unless
``allow_hosts`` admits its name).
"""

from __future__ import annotations

import ipaddress
import logging
import urllib.request
from collections.abc import Iterable, Mapping
from urllib.parse import urljoin

import httpcore
import httpx

from searchqa.net.guard import AddressGuard, parse_ip_host
from searchqa.settings import FetchSettings

logger = logging.getLogger(__name__)

PROXY_SCHEMES = ("http", "https")


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Dials only addresses the guard has vetted for the requested host."""

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._dialer = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._guard.resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._dialer.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("page fetches never use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._dialer.sleep(seconds)


class ProxyRoutes:
    """Which proxy, if any, a URL goes through, from the environment's proxy variables."""

    def __init__(self, proxies: Mapping[str, str]) -> None:
        self._proxies: dict[str, str] = {}
        for scheme in ("http", "https", "all"):
            proxy = proxies.get(scheme, "").strip()
            if not proxy:
                continue
            if "://" not in proxy:
                proxy = f"http://{proxy}"
            try:
                supported = httpx.URL(proxy).scheme in PROXY_SCHEMES
            except httpx.InvalidURL:
                supported = False
            if not supported:
                logger.warning("ignoring the %s proxy setting: not an http(s) proxy URL", scheme)
                continue
            self._proxies[scheme] = proxy
        entries = [e.strip().lower() for e in proxies.get("no", "").split(",") if e.strip()]
        self._bypass_all = "*" in entries
        self._bypass_names: list[str] = []
        self._bypass_networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                self._bypass_networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                self._bypass_names.append(entry.lstrip("*.").split(":")[0])

    @classmethod
    def from_environment(cls) -> ProxyRoutes:
        """Read ``*_PROXY`` and ``NO_PROXY`` (lower case wins, as in curl and urllib)."""
        return cls(urllib.request.getproxies_environment())

    @property
    def proxy_urls(self) -> set[str]:
        return set(self._proxies.values())

    def proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy URL for ``url``, or None to connect directly."""
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if proxy is None or self._bypassed(url.host):
            return None
        return proxy

    def _bypassed(self, host: str) -> bool:
        if self._bypass_all:
            return True
        host = host.strip("[]").rstrip(".").lower()
        try:
            address = parse_ip_host(host)
        except ValueError:
            address = None
        if address is not None:
            return (
                any(
                    address.version == net.version and address in net
                    for net in self._bypass_networks
                )
                or str(address) in self._bypass_names
            )
        return any(host == name or host.endswith("." + name) for name in self._bypass_names)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks each request's URL, then sends it directly (guarded dial) or through a proxy."""

    def __init__(self, guard: AddressGuard, *, limits: httpx.Limits, routes: ProxyRoutes) -> None:
        self._guard = guard
        self._routes = routes
        self._direct = httpx.AsyncHTTPTransport(limits=limits)
        # httpx (pinned <0.29) has no option for the network backend: swap the pool it built for
        # one that dials through the guard, keeping httpx's request and error mapping.
        self._direct._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedNetworkBackend(guard),
        )
        self._proxied = {
            proxy: httpx.AsyncHTTPTransport(proxy=proxy, limits=limits)
            for proxy in routes.proxy_urls
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._guard.check_url(str(request.url))
        proxy = self._routes.proxy_for(request.url)
        if proxy is None:
            return await self._direct.handle_async_request(request)
        host = request.url.host
        if not self._guard.allows_name(host):
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            try:
                await self._guard.resolve(host, port)
            except OSError as exc:
                raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        return await self._proxied[proxy].handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for transport in self._proxied.values():
            await transport.aclose()


def guarded_client(settings: FetchSettings, guard: AddressGuard) -> httpx.AsyncClient:
    """An httpx client for outside URLs: guarded, no automatic redirects, capped time.

    A redirect response whose Location the guard refuses raises BlockedURLError at once, with
    the guard's message (httpx would otherwise fail later on, or with a vaguer error, for
    notations it cannot parse). Callers that enable ``follow_redirects`` stay guarded: every
    hop is a new request through the same transport.
    """

    async def check_redirect(response: httpx.Response) -> None:
        location = response.headers.get("location", "").strip()
        if response.has_redirect_location and location:
            guard.check_url(urljoin(str(response.request.url), location))

    # One fetcher serves every question at once; per-question concurrency is fetch_pages' job.
    limits = httpx.Limits(
        max_connections=max(100, settings.concurrency * 4),
        max_keepalive_connections=settings.concurrency,
    )
    transport = GuardedTransport(guard, limits=limits, routes=ProxyRoutes.from_environment())
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.page_timeout_s),
        follow_redirects=False,
        max_redirects=settings.max_redirects,
        trust_env=False,
        event_hooks={"response": [check_redirect]},
        headers={
            "User-Agent": settings.user_agent,
            "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,text/markdown;q=0.9",
            "Accept-Encoding": "gzip, deflate",
        },
    )
