"""Nodes: the network elements of a capture, each with every address it was seen using.

A ladder with one column per ``addr:port`` shows a proxy with two interfaces as two hosts.
What the messages themselves say about which addresses are one element:

- a proxy's copy of a request carries the Via list of the copy it received plus its own Via
  on top (RFC 3261 16.6 step 8), and a response it forwards has that top Via removed (16.7
  step 3): so the address a request (or response) arrived at and the address its forwarded
  copy left from are the same element;
- the Record-Route values a proxy added (16.6 step 4: the copy it sends has the received
  list with its own value(s) on top) are its own addresses, and a proxy recording two
  interfaces marks the pair ``r2=on`` (the double Record-Route of RFC 5658 4);
- a Via sent-by names the address its sender wants responses on (18.2.2), and ``received``
  with ``rport`` (RFC 3581 4) the address the next hop saw the request come from.

Only addresses seen as a packet's source or destination are joined: a Via or Record-Route
address that never appears on the wire (a private address behind NAT) could otherwise join
two elements that happen to claim the same one. A name given by the user (``--alias
NAME=ADDR``) names the node holding that address, and addresses given one name are one node.

Pure: works on captured messages.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import field

from rtcscope._dataclass import dataclass
from rtcscope.errors import InvalidArgument
from rtcscope.sip.transactions import CapturedMessage, destination, endpoint, source


def normalize_host(host: str) -> str | None:
    """An IP literal in canonical form (IPv6 compressed, no brackets); None for a name."""
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return None


def _endpoint_of(host: str, port: int | None, transport: str = "udp") -> str | None:
    address = normalize_host(host)
    if address is None:
        return None
    # RFC 3261 18.2.2 / 19.1.2: no port means 5060, or 5061 for TLS.
    default = 5061 if transport.lower() in ("tls", "wss") else 5060
    return endpoint(address, port if port is not None else default)


def split_endpoint(text: str) -> tuple[str, int | None]:
    """``addr``, ``addr:port`` or ``[v6]:port`` -> (canonical address, port or None)."""
    raw = text.strip()
    port: int | None = None
    host = raw
    if raw.startswith("["):
        close = raw.find("]")
        host = raw[1:close] if close > 0 else raw
        rest = raw[close + 1 :] if close > 0 else ""
        if rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit():
            port = int(rest[1:])
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
        if not (port_text.isascii() and port_text.isdigit()):
            raise InvalidArgument("address", f"{text!r}: the port is not a number")
        port = int(port_text)
    address = normalize_host(host)
    if address is None:
        raise InvalidArgument(
            "address", f"{text!r} is not an IP address (addr, addr:port or [v6]:port)"
        )
    return address, port


def parse_alias(text: str) -> tuple[str, str, int | None]:
    """``NAME=ADDR`` (ADDR: ``ip``, ``ip:port`` or ``[v6]:port``) -> (name, address, port)."""
    name, sep, addr = text.partition("=")
    if not sep or not name.strip() or not addr.strip():
        raise InvalidArgument("alias", f"{text!r}: expected NAME=ADDR (e.g. proxy=10.0.0.1)")
    address, port = split_endpoint(addr)
    return name.strip(), address, port


def host_of(endpoint_text: str) -> str:
    """The address part of an ``addr:port`` endpoint (IPv6 without brackets)."""
    if endpoint_text.startswith("["):
        return endpoint_text[1 : endpoint_text.index("]")]
    return endpoint_text.rsplit(":", 1)[0]


@dataclass(slots=True)
class Node:
    """One element: its name and every ``addr:port`` it used, in order of first appearance."""

    name: str
    addresses: list[str] = field(default_factory=list)
    alias: bool = False  # named by the user

    @property
    def hosts(self) -> list[str]:
        return list(dict.fromkeys(host_of(a) for a in self.addresses))


@dataclass(slots=True)
class NodeMap:
    """The nodes of a capture and which node each endpoint belongs to."""

    nodes: list[Node]
    by_endpoint: dict[str, Node]

    def node_of(self, endpoint_text: str) -> Node | None:
        return self.by_endpoint.get(endpoint_text)

    def node_for_host(self, address: str) -> Node | None:
        """The node using this IP address (any port), for media and ICMP rows."""
        canonical = normalize_host(address) or address
        for node in self.nodes:
            if canonical in node.hosts:
                return node
        return None


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def add(self, item: str) -> None:
        self.parent.setdefault(item, item)

    def root(self, item: str) -> str:
        parent = self.parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    def union(self, a: str, b: str) -> None:
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[rb] = ra


def _branches(captured: CapturedMessage) -> tuple[str, ...]:
    return tuple(v.branch or v.sent_by for v in captured.message.vias)


def _identity(captured: CapturedMessage) -> tuple[object, ...]:
    m = captured.message
    cseq = (m.cseq.number, m.cseq.method.upper()) if m.cseq is not None else None
    return (m.call_id, cseq, m.status_code)


def _record_route_endpoints(captured: CapturedMessage) -> list[tuple[str | None, bool]]:
    out: list[tuple[str | None, bool]] = []
    for value in captured.message.record_routes:
        uri = value.uri
        if uri is None:
            out.append((None, False))
            continue
        transport = uri.transport or ("tls" if uri.scheme == "sips" else "udp")
        out.append((_endpoint_of(uri.host, uri.port, transport), uri.param("r2") == "on"))
    return out


def _same_elements(
    messages: Sequence[CapturedMessage], observed: set[str]
) -> list[tuple[str, str]]:
    """Pairs of observed endpoints the messages show to be one element (module docstring)."""
    pairs: list[tuple[str, str]] = []

    def join(a: str | None, b: str | None) -> None:
        if a is not None and b is not None and a != b and a in observed and b in observed:
            pairs.append((a, b))

    by_vias: dict[tuple[object, ...], CapturedMessage] = {}
    for captured in messages:
        by_vias.setdefault((*_identity(captured), _branches(captured)), captured)
    for captured in messages:
        message = captured.message
        branches = _branches(captured)
        identity = _identity(captured)
        if message.is_request and len(branches) > 1:
            received = by_vias.get((*identity, branches[1:]))
            if received is not None:
                join(destination(received), source(captured))
                before = _record_route_endpoints(received)
                after = _record_route_endpoints(captured)
                added = len(after) - len(before)
                if added > 0 and after[added:] == before:
                    for ep, _r2 in after[:added]:
                        join(ep, source(captured))
                        join(ep, destination(received))
        elif message.is_response and len(branches) > 1:
            # The proxy that received this response forwards it with its own Via removed.
            forwarded = by_vias.get((*identity, branches[1:]))
            if forwarded is not None:
                join(destination(captured), source(forwarded))
        rr = _record_route_endpoints(captured)
        index = 0
        while index + 1 < len(rr):
            (first, r2_first), (second, r2_second) = rr[index], rr[index + 1]
            if r2_first and r2_second:  # one proxy's pair: never join across two pairs
                join(first, second)
                index += 2
            else:
                index += 1
        via = message.top_via
        if via is not None and message.is_request:
            sent_by = _endpoint_of(via.host, via.port, via.transport)
            join(sent_by, source(captured))
        for via in message.vias:
            if via.received is None and via.rport is None:
                continue
            sent_by = _endpoint_of(via.host, via.port, via.transport)
            seen_at = _endpoint_of(
                via.received or via.host,
                via.rport if via.rport is not None else via.port,
                via.transport,
            )
            join(sent_by, seen_at)
    return pairs


def find_nodes(
    messages: Sequence[CapturedMessage],
    aliases: Iterable[tuple[str, str, int | None]] = (),
    extra_endpoints: Iterable[str] = (),
) -> NodeMap:
    """The nodes of the given messages (and of ``extra_endpoints``, e.g. media addresses)."""
    order: list[str] = []
    for captured in messages:
        order += [source(captured), destination(captured)]
    order += list(extra_endpoints)
    order = list(dict.fromkeys(order))
    observed = set(order)
    uf = _UnionFind()
    for ep in order:
        uf.add(ep)
    for a, b in _same_elements(messages, observed):
        uf.union(a, b)
    names: dict[str, str] = {}  # root -> alias name
    alias_list = list(aliases)
    by_alias: dict[str, str] = {}
    for name, address, port in alias_list:
        for ep in order:
            if host_of(ep) == address and (port is None or ep == endpoint(address, port)):
                if name in by_alias:
                    uf.union(by_alias[name], ep)
                else:
                    by_alias[name] = ep
    for name, first in by_alias.items():
        names[uf.root(first)] = name
    groups: dict[str, list[str]] = {}
    for ep in order:
        groups.setdefault(uf.root(ep), []).append(ep)
    host_users: dict[str, set[str]] = {}
    for root_ep, eps in groups.items():
        for ep in eps:
            host_users.setdefault(host_of(ep), set()).add(root_ep)
    nodes: list[Node] = []
    by_endpoint: dict[str, Node] = {}
    for root_ep, eps in groups.items():
        if root_ep in names:
            node = Node(names[root_ep], eps, alias=True)
        else:
            first = eps[0]
            shared = len(host_users[host_of(first)]) > 1
            node = Node(first if shared else host_of(first), eps)
        nodes.append(node)
        for ep in eps:
            by_endpoint[ep] = node
    return NodeMap(nodes, by_endpoint)
