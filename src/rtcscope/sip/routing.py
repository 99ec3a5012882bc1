"""The RFC 3261 routing engine: route sets, in-dialog requests, and what each proxy must do.

- Route set (12.1.1, 12.1.2): the UAS takes the request's Record-Route as it came; the UAC
  takes the 2xx's Record-Route reversed. The remote target is the peer's Contact.
- In-dialog request (12.2.1.1): with a loose first route (``;lr``) the Request-URI is the
  remote target and Route is the route set; with a strict first route the Request-URI is that
  route and Route is the rest of the route set plus the remote target.
- Proxy (16.4): if the Request-URI is a value this proxy put in Record-Route, the previous hop
  was a strict router: the last Route value becomes the Request-URI and is removed. Then the
  proxy removes the first Route value if it is its own -- both top values after a double
  Record-Route (one per interface). 16.5: a proxy does not rewrite a Request-URI it is not
  responsible for (an in-dialog Request-URI is the remote target). 16.6 step 3: Max-Forwards
  minus one. 16.6 step 6: a next hop without ``lr`` is a strict router: its URI becomes the
  Request-URI and the old Request-URI goes to the end of Route. 16.12: the request goes to the
  first Route value, or on the Request-URI when no Route is left.

:func:`plan_route` applies these rules to a 2xx and a list of proxies (``rtcscope route``);
:func:`forward_as_proxy` is one proxy's step, which :mod:`rtcscope.sip.diagnosis` compares
with what each proxy in a capture actually did. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rtcscope.errors import UsageError
from rtcscope.sip.headers import NameAddr
from rtcscope.sip.message import SipMessage
from rtcscope.sip.transactions import endpoint
from rtcscope.sip.uri import Uri

DEFAULT_PORTS = {"sip": 5060, "sips": 5061}


def uri_port(uri: Uri) -> int:
    """The port a URI names, or the default for its scheme/transport (RFC 3263 fallback)."""
    if uri.port is not None:
        return uri.port
    if uri.scheme.lower() == "sips" or uri.transport == "tls":
        return 5061
    return 5060


def normal_host(host: str) -> str:
    """A host as captures print addresses: IPs in their canonical (compressed) form, names
    lower-case, no brackets; so ``fec0:0:0:0:216:d3ff:fe0d:22c`` equals ``fec0::216:...``."""
    bare = host.strip("[]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return bare.lower()


def uri_endpoint(uri: Uri) -> str:
    """``host:port`` of a URI (maddr wins, 19.1.1), IPv6 in brackets."""
    return endpoint(uri_host(uri), uri_port(uri))


def uri_host(uri: Uri) -> str:
    return normal_host(uri.maddr or uri.host_address)


def same_target(a: Uri, b: Uri) -> bool:
    """Same scheme, user, host and port: where a request goes and to whom, parameters aside
    (a UA may drop ``transport=udp`` from a Contact it reuses)."""
    return (
        a.scheme.lower() == b.scheme.lower()
        and (a.user or "") == (b.user or "")
        and uri_host(a) == uri_host(b)
        and uri_port(a) == uri_port(b)
    )


def same_uri(a: Uri, b: Uri) -> bool:
    """URI equality for route comparison (19.1.4, simplified: parameters order-insensitive)."""
    return (
        a.scheme.lower() == b.scheme.lower()
        and (a.user or "") == (b.user or "")
        and a.host_address.lower() == b.host_address.lower()
        and uri_port(a) == uri_port(b)
        and sorted((n.lower(), (v or "").lower()) for n, v in a.params)
        == sorted((n.lower(), (v or "").lower()) for n, v in b.params)
    )


def same_uris(a: Sequence[Uri], b: Sequence[Uri]) -> bool:
    return len(a) == len(b) and all(same_uri(x, y) for x, y in zip(a, b, strict=True))


def uris(values: Sequence[NameAddr]) -> list[Uri]:
    return [v.uri for v in values if v.uri is not None]


def format_uris(values: Sequence[Uri]) -> str:
    return ", ".join(f"<{u}>" for u in values) if values else "(none)"


def route_set_from_record_route(record_routes: Sequence[NameAddr], *, uac: bool) -> list[Uri]:
    """The dialog's route set: Record-Route reversed at the UAC (12.1.2), as is at the UAS."""
    route = uris(record_routes)
    return list(reversed(route)) if uac else route


@dataclass(frozen=True, slots=True)
class InDialogRequest:
    """Request-URI and Route of an in-dialog request as the UA must build it (12.2.1.1)."""

    request_uri: Uri
    routes: tuple[Uri, ...]
    next_hop: Uri
    strict_first_hop: bool


def in_dialog_request(route_set: Sequence[Uri], remote_target: Uri) -> InDialogRequest:
    """12.2.1.1: loose first route -> R-URI = remote target; strict -> R-URI = first route."""
    if not route_set:
        return InDialogRequest(remote_target, (), remote_target, False)
    first = route_set[0]
    if first.lr:
        return InDialogRequest(remote_target, tuple(route_set), first, False)
    return InDialogRequest(first, (*route_set[1:], remote_target), first, True)


@dataclass(frozen=True, slots=True)
class ProxyStep:
    """What a proxy must send, given what it received (16.4, 16.5, 16.6)."""

    request_uri: Uri
    routes: tuple[Uri, ...]
    max_forwards: int | None
    next_hop: Uri
    removed: tuple[Uri, ...]
    strict_previous_hop: bool  # 16.4: the Request-URI was this proxy's Record-Route value
    acts_as_strict_router: bool  # this proxy recorded a route without lr (RFC 2543)
    strict_next_hop: bool  # 16.6 step 6
    actions: tuple[str, ...]
    retargets: bool = False  # the Request-URI names this proxy (not a Record-Route value)

    @property
    def leaves_from(self) -> Uri | None:
        """After a double Record-Route, the proxy's other interface: the last value removed."""
        return self.removed[-1] if len(self.removed) >= 2 else None


def forward_as_proxy(
    request_uri: Uri,
    routes: Sequence[Uri],
    max_forwards: int | None,
    owns: Callable[[Uri], bool],
    recorded: Sequence[Uri] | None = None,
) -> ProxyStep:
    """One proxy's routing of a request that carries Route values (16.4, 16.6, 16.12).

    ``recorded`` are the Record-Route values of the dialog, when known: a Request-URI that
    names this proxy but is none of them is a URI the proxy is responsible for (it put itself
    in a Contact, or owns the domain), which it may retarget (16.5).
    """
    actions: list[str] = []
    ruri = request_uri
    remaining = list(routes)
    strict_previous = False
    acts_strict = False
    is_recorded = recorded is None or any(same_uri(ruri, r) for r in recorded)
    retargets = owns(ruri) and not is_recorded
    if retargets:
        actions.append(
            f"the Request-URI <{ruri}> names this proxy but is not one of its Record-Route "
            "values: it is responsible for it and may retarget it (RFC 3261 16.5)"
        )
    elif owns(ruri) and remaining:
        if ruri.lr:
            # 16.4: we put this URI in Record-Route; the previous hop was a strict router.
            strict_previous = True
            ruri = remaining.pop()
            actions.append(
                "the Request-URI is its own Record-Route value (the previous hop was a strict "
                f"router): take the last Route value <{ruri}> as Request-URI and remove it "
                "(RFC 3261 16.4)"
            )
        else:
            # A strict router (RFC 2543) addressed by the Request-URI routes on the first Route.
            acts_strict = True
            ruri = remaining.pop(0)
            actions.append(
                "strict router (its Record-Route had no ;lr): the first Route value "
                f"<{ruri}> becomes the Request-URI and is removed (RFC 2543, RFC 3261 16.4)"
            )
            mf = None if max_forwards is None else max_forwards - 1
            if mf is not None:
                actions.append(f"Max-Forwards {max_forwards} -> {mf} (16.6 step 3)")
            return ProxyStep(
                request_uri=ruri,
                routes=tuple(remaining),
                max_forwards=mf,
                next_hop=ruri,
                removed=(),
                strict_previous_hop=False,
                acts_as_strict_router=True,
                strict_next_hop=False,
                actions=tuple(actions),
                retargets=False,
            )
    removed: list[Uri] = []
    while remaining and owns(remaining[0]):
        removed.append(remaining.pop(0))
    if removed:
        actions.append(
            f"remove its own Route value{'s' if len(removed) > 1 else ''} "
            f"{format_uris(removed)} (RFC 3261 16.4)"
        )
        if len(removed) > 1:
            actions.append(
                f"send from the interface of <{removed[-1]}> (double Record-Route, one value "
                "per interface)"
            )
    else:
        actions.append("no Route value of its own on top: remove nothing (RFC 3261 16.4)")
    strict_next = False
    if remaining:
        nxt = remaining[0]
        if nxt.lr:
            next_hop = nxt
            actions.append(
                f"leave the Request-URI alone (16.5) and send to the first Route value <{nxt}> "
                "(16.12)"
            )
        else:
            strict_next = True
            remaining = [*remaining[1:], ruri]
            ruri = nxt
            next_hop = nxt
            actions.append(
                f"the next hop <{nxt}> has no ;lr (a strict router): make it the Request-URI "
                "and append the old Request-URI as the last Route value (RFC 3261 16.6 step 6)"
            )
    else:
        next_hop = ruri
        actions.append(
            "no Route left: forward on the Request-URI, unchanged (RFC 3261 16.5, 16.12)"
        )
    mf = None if max_forwards is None else max_forwards - 1
    if mf is not None:
        actions.append(f"Max-Forwards {max_forwards} -> {mf} (16.6 step 3)")
    return ProxyStep(
        request_uri=ruri,
        routes=tuple(remaining),
        max_forwards=mf,
        next_hop=next_hop,
        removed=tuple(removed),
        strict_previous_hop=strict_previous,
        acts_as_strict_router=acts_strict,
        strict_next_hop=strict_next,
        actions=tuple(actions),
        retargets=retargets,
    )


@dataclass(frozen=True, slots=True)
class Proxy:
    """A proxy by name and the addresses it answers on (``host`` or ``host:port``)."""

    name: str
    addresses: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Proxy:
        """``B=127.0.10.2,127.0.10.12`` (or just ``127.0.10.3``: the name is the address)."""
        name, sep, rest = text.partition("=")
        if not sep:
            rest, name = name, name
        addresses = tuple(a.strip() for a in rest.split(",") if a.strip())
        if not name.strip() or not addresses:
            raise UsageError(f"--proxy {text!r}: expected NAME=ADDR[,ADDR...]")
        return cls(name.strip(), addresses)

    def owns(self, uri: Uri) -> bool:
        host = uri_host(uri)
        port = uri_port(uri)
        for address in self.addresses:
            a_host, a_port = _split_host_port(address)
            if a_host == host and (a_port is None or a_port == port):
                return True
        return False


def _uris_of(proxy: Proxy) -> list[Uri]:
    out = []
    for address in proxy.addresses:
        host, port = _split_host_port(address)
        out.append(Uri(scheme="sip", host=f"[{host}]" if ":" in host else host, port=port))
    return out


def _split_host_port(text: str) -> tuple[str, int | None]:
    text = text.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port) if port.isdigit() else None
    return text, None


@dataclass(frozen=True, slots=True)
class RouteHop:
    """One hop of a planned path: who sends, to where, and the request it sends."""

    index: int
    sender: str  # "UAC" or a proxy name
    to: str  # the next hop's host:port
    to_element: str  # proxy name, "UAS (remote target)" or "unknown"
    request_uri: Uri
    routes: tuple[Uri, ...]
    max_forwards: int | None
    sends_from: str | None  # the interface a double-Record-Routing proxy leaves from
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoutePlan:
    """The path an in-dialog request must take from the UAC, hop by hop."""

    route_set: tuple[Uri, ...]
    remote_target: Uri
    hops: tuple[RouteHop, ...]
    problems: tuple[str, ...] = field(default_factory=tuple)


def proxies_from_route_set(route_set: Sequence[Uri]) -> list[Proxy]:
    """Guess the proxies when none are given: one per address, except that consecutive values
    marked ``r2=on`` (a double Record-Route, as kamailio/OpenSIPS write it) are one proxy."""
    proxies: list[Proxy] = []
    previous_r2 = False
    for uri in route_set:
        address = uri_endpoint(uri)
        is_r2 = uri.param("r2") is not None
        if is_r2 and previous_r2 and proxies and len(proxies[-1].addresses) == 1:
            last = proxies[-1]
            proxies[-1] = Proxy(last.name, (*last.addresses, address))
            previous_r2 = False
            continue
        if not any(p.owns(uri) for p in proxies):
            proxies.append(Proxy(address, (address,)))
        previous_r2 = is_r2
    return proxies


def plan_route(
    answer: SipMessage,
    proxies: Sequence[Proxy] = (),
    *,
    method: str = "ACK",
    max_forwards: int = 70,
    uac: bool = True,
) -> RoutePlan:
    """The path of an in-dialog request built from the message that set up the dialog.

    From the caller's side (``uac=True``, the default) ``answer`` is the 2xx: route set = its
    Record-Route reversed, remote target = its Contact (12.1.2). From the callee's side
    (``uac=False``) it is the INVITE as received: route set = its Record-Route as is, remote
    target = its Contact (12.1.1) -- the path of the callee's BYE.
    """
    if not answer.contacts or answer.contacts[0].uri is None:
        raise UsageError(
            f"{answer.summary!r} has no Contact: there is no remote target (RFC 3261 12.1)"
        )
    remote_target = answer.contacts[0].uri
    route_set = route_set_from_record_route(answer.record_routes, uac=uac)
    # Proxies not named by the user are guessed from the route set (one per address, r2=on
    # pairs together), so a partial --proxy list still gives the whole path.
    known = list(proxies)
    for guessed in proxies_from_route_set(route_set):
        if not any(p.owns(u) for p in known for u in _uris_of(guessed)):
            known.append(guessed)
    request = in_dialog_request(route_set, remote_target)
    problems: list[str] = []
    hops: list[RouteHop] = []
    ruri, routes = request.request_uri, request.routes
    mf: int | None = max_forwards
    first_actions = [
        f"route set = Record-Route reversed: {format_uris(route_set)} (RFC 3261 12.1.2)"
        if uac
        else f"route set = Record-Route as received: {format_uris(route_set)} (RFC 3261 12.1.1)",
        f"remote target = Contact <{remote_target}>",
    ]
    if request.strict_first_hop:
        first_actions.append(
            "the first route has no ;lr (strict router): Request-URI = that route, Route = the "
            "rest + the remote target (12.2.1.1)"
        )
    elif route_set:
        first_actions.append("Request-URI = remote target, Route = route set (12.2.1.1)")
    else:
        first_actions.append("no route set: send straight to the remote target (12.2.1.1)")
    sender = "UAC" if uac else "UAS"
    actions: tuple[str, ...] = tuple(first_actions)
    sends_from: str | None = None
    next_hop = request.next_hop
    for index in range(1, 2 * len(route_set) + 3):
        owner = next((p for p in known if p.owns(next_hop)), None)
        if owner is None and not routes and same_uri(next_hop, remote_target):
            element = f"{'UAS' if uac else 'UAC'} {method} target"
        elif owner is None:
            element = "unknown"
        else:
            element = owner.name
        hops.append(
            RouteHop(
                index=index,
                sender=sender,
                to=uri_endpoint(next_hop),
                to_element=element,
                request_uri=ruri,
                routes=tuple(routes),
                max_forwards=mf,
                sends_from=sends_from,
                actions=actions,
            )
        )
        if owner is None:
            if element == "unknown":
                problems.append(
                    f"hop {index}: {uri_endpoint(next_hop)} is not one of the proxies given and "
                    "not the remote target"
                )
            break
        step = forward_as_proxy(ruri, routes, mf, owner.owns, route_set)
        sender = owner.name
        actions = step.actions
        sends_from = uri_endpoint(step.leaves_from) if step.leaves_from is not None else None
        ruri, routes, mf, next_hop = step.request_uri, step.routes, step.max_forwards, step.next_hop
        if not (
            step.removed or step.strict_previous_hop or step.acts_as_strict_router or step.retargets
        ):
            problems.append(
                f"{owner.name} receives the request but no Route value names it: it has nothing "
                "to remove (is it really on the route set?)"
            )
    else:
        problems.append("the path does not end: a route loop")
    return RoutePlan(
        route_set=tuple(route_set),
        remote_target=remote_target,
        hops=tuple(hops),
        problems=tuple(problems),
    )


_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_ULA = ipaddress.ip_network("fc00::/7")


def is_unroutable_address(host: str) -> str | None:
    """Why an address cannot be reached from the public Internet, or None.

    Only the ranges a NAT hides or that never leave a host are named: RFC 1918 and unique
    local (RFC 4193) addresses, carrier-grade NAT (RFC 6598), loopback and link-local.
    """
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified:
        return "unspecified"
    if isinstance(ip, ipaddress.IPv4Address):
        if ip in _CGNAT:
            return "carrier-grade NAT (RFC 6598)"
        if any(ip in net for net in _RFC1918):
            return "private (RFC 1918)"
    elif ip in _ULA:
        return "unique local (RFC 4193)"
    return None
