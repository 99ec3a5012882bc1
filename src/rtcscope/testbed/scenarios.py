"""The test bed's scenarios: one good call through three kamailio proxies and its broken kin.

Topology (loopback, 127.0.10.0/24 only; every element on port 5060)::

    A (sipp caller) 127.0.10.1 (A2, 127.0.10.11: its new Contact after a target refresh)
      -> B (kamailio) listens on 127.0.10.2 (A side) and 127.0.10.12 (C side): double Record-Route
      -> C (kamailio) 127.0.10.3
      -> D (kamailio) 127.0.10.4, responsible for the callee's domain: rewrites the initial
         Request-URI to the callee's address (allowed by RFC 3261 16.5, it owns the domain)
      -> E (sipp callee) 127.0.10.5

Each scenario differs from the good call in one rule; the others keep the good call's parts.
The files are templates (``data/proxy.cfg``, ``data/caller.xml``, ``data/callee.xml``) whose
``@NAME@`` fields are filled here, so what every scenario changes is visible in one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources

NETWORK = "127.0.10.0/24"
PORT = 5060
ADDRESSES: dict[str, str] = {
    "A": "127.0.10.1",
    "B": "127.0.10.2",
    "B2": "127.0.10.12",
    "C": "127.0.10.3",
    "D": "127.0.10.4",
    "E": "127.0.10.5",
    # The caller's new Contact after a target refresh (a second sipp listens there).
    "A2": "127.0.10.11",
    # Where nothing listens: the "dead" address a proxy's alias may point to.
    "DEAD": "127.0.10.6",
}
DOMAIN = "rtcscope.test"
# RFC 3261 13.3.1.4: the callee retransmits its 2xx at T1 = 500 ms doubling to T2 = 4 s, at
# 0, 0.5, 1.5, 3.5, 7.5, 11.5 ... 27.5 s (nine retransmissions), and hangs up at 64*T1 = 32 s.
T1_MS = 500
T2_MS = 4_000
TIMER_64T1_MS = 64 * T1_MS
RETRANSMISSIONS_IN_64T1 = 9


def answer_waits_ms(retransmissions: int) -> list[int]:
    """How long the callee waits for the ACK after each copy of its 2xx (13.3.1.4)."""
    waits = [min(T1_MS * 2**i, T2_MS) for i in range(retransmissions + 1)]
    if sum(waits) < TIMER_64T1_MS and retransmissions >= RETRANSMISSIONS_IN_64T1:
        waits[-1] += TIMER_64T1_MS - sum(waits)
    return waits


# Port the "unreachable Contact" callee advertises while listening on PORT.
UNREACHABLE_CONTACT_PORT = 5090
# Where the "R-URI rewrite" proxy sends in-dialog requests (nothing listens there).
REWRITTEN_TARGET = f"sip:service@{ADDRESSES['E']}:5070"

_LOOSE_ROUTE = """\
	# RFC 3261 16.4 / 16.12: loose_route() removes this proxy's own Route value(s) and sends the
	# request to the next Route value, or on the Request-URI when none is left.
	if (loose_route()) {
		t_relay();
		exit;
	}
	if (is_method("ACK")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	sl_send_reply("404", "Not here");"""

_SKIP_LOOSE_ROUTE = """\
	# BROKEN ON PURPOSE: in-dialog requests are forwarded like initial ones, to the static next
	# hop, without loose_route(): this proxy's Route value is never removed (RFC 3261 16.4).
	$du = "@NEXT_HOP@";
	t_relay();"""

_REWRITE_RURI = """\
	# BROKEN ON PURPOSE: the initial-request Request-URI rewrite is applied to in-dialog
	# requests too; the Request-URI is the remote target, not this proxy's (RFC 3261 16.5).
	if (loose_route()) {
		$ru = "@REWRITTEN_TARGET@";
		t_relay();
		exit;
	}
	sl_send_reply("404", "Not here");"""

# A strict router (RFC 2543): it expects its own URI as Request-URI, replaces the Request-URI by
# the first Route value and removes that value (RFC 3261 16.4 and 16.6 step 6 are the loose
# routers' side of it, handled by kamailio's loose_route() in B and D).
_STRICT_ROUTER = """\
	if (uri == myself && is_present_hf("Route")) {
		$var(routes) = $(hdr(Route)[*]);
		$var(next) = $(var(routes){s.select,0,,});
		$var(skip) = $(var(next){s.len}) + 1;
		$var(rest) = $(var(routes){s.substr,$var(skip),0});
		$var(rest) = $(var(rest){s.trim});
		remove_hf("Route");
		if ($(var(rest){s.len}) > 0) {
			insert_hf("Route: $var(rest)\\r\\n");
		}
		$ru = $(var(next){nameaddr.uri});
		t_relay();
		exit;
	}
	sl_send_reply("404", "Not here");"""

# The callee's Contact names a host the last proxy resolves by local policy (an alias, as DNS
# or a location service would): RFC 3261 16.6 step 7 / RFC 3263 let it pick the address.
CALLEE_ALIAS = "callee.rtcscope.test"

_ALIAS_ROUTE = """\
	# Loose routing as in the good call; a Request-URI naming the callee's alias (no Route left)
	# is resolved to @ALIAS_TARGET@ by local policy, like a DNS or location lookup.
	if (loose_route()) {
		if ($rd == "@ALIAS@") {
			$du = "sip:@ALIAS_TARGET@:@PORT@";
		}
		t_relay();
		exit;
	}
	if (is_method("ACK")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	sl_send_reply("404", "Not here");"""

_RECORD_ROUTE = "\trecord_route();"
# kamailio's rr module always adds ";lr", so a strict router records its route by hand.
_STRICT_RECORD_ROUTE = '\tinsert_hf("Record-Route: <sip:@ADDRESS@:@PORT@>\\r\\n", "Record-Route");'


@dataclass(frozen=True, slots=True)
class ProxyRole:
    """One kamailio instance: its name, listen sockets and how it routes."""

    name: str
    listen: tuple[str, ...]  # kamailio socket specs, e.g. "udp:127.0.10.2:5060"
    initial: str  # kamailio statements for initial requests (after record-routing)
    in_dialog: str = _LOOSE_ROUTE
    record_route: str = _RECORD_ROUTE
    next_hop: str = ""
    double_rr: bool = False
    alias_target: str = ""  # the address the @ALIAS@ host resolves to (alias scenarios)

    def config(self, template: str) -> str:
        """The kamailio configuration for this role, from the shared template."""
        listen = "\n".join(f"listen={socket}" for socket in self.listen)
        # Outgoing TCP connections would otherwise leave from 127.0.0.1, outside the bed's range.
        tcp_sources = [s.split(":")[1] for s in self.listen if s.startswith("tcp:")]
        core = f"tcp_source_ipv4={tcp_sources[-1]}" if tcp_sources else ""
        text = (
            template.replace("@LISTEN@", listen)
            .replace("@CORE@", core)
            .replace("@IN_DIALOG@", self.in_dialog)
            .replace("@RECORD_ROUTE@", self.record_route)
            .replace("@INITIAL@", self.initial)
            .replace("@DOUBLE_RR@", "1" if self.double_rr else "0")
            .replace("@NEXT_HOP@", self.next_hop)
            .replace("@REWRITTEN_TARGET@", REWRITTEN_TARGET)
            .replace("@ALIAS_TARGET@", self.alias_target)
            .replace("@ALIAS@", CALLEE_ALIAS)
            .replace("@NAME@", self.name)
            .replace("@ADDRESS@", ADDRESSES[self.name])
            .replace("@PORT@", str(PORT))
        )
        return text


@dataclass(frozen=True, slots=True)
class Scenario:
    """A test-bed run: three proxies, a caller and a callee, and what should go wrong."""

    name: str
    summary: str
    proxies: tuple[ProxyRole, ...]
    callee_copies_record_route: bool = True
    callee_rejects: bool = False  # answer 486 Busy Here instead of 200 OK
    callee_contact: str = f"{ADDRESSES['E']}:{PORT}"
    caller_hangs_up_after_ms: int = 1_000
    answer_retransmissions: int = RETRANSMISSIONS_IN_64T1
    expect_ack_at_callee: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)
    caller_template: str = "caller.xml"
    callee_template: str = ""  # a whole callee scenario instead of the good call's answers
    refreshed_target_template: str = ""  # A2's scenario, when a target refresh moves A there

    def shortened(self, answer_retransmissions: int = 3) -> Scenario:
        """A short live run: fewer 2xx retransmissions before the callee gives up, and a
        caller that waits only that long (the kept captures run the whole 64*T1)."""
        give_up = sum(answer_waits_ms(answer_retransmissions))
        return dataclasses.replace(
            self,
            caller_hangs_up_after_ms=min(self.caller_hangs_up_after_ms, give_up + 3_000),
            answer_retransmissions=answer_retransmissions,
        )

    @property
    def give_up_ms(self) -> int:
        """When the callee hangs up if no ACK arrives."""
        return sum(answer_waits_ms(self.answer_retransmissions))

    @property
    def callee_wait_s(self) -> float:
        """How long to wait for the callee once the caller is done."""
        return self.give_up_ms / 1000 + 6

    @property
    def max_seconds(self) -> float:
        """Upper bound on one run (the caller's call, its BYE, the callee's wait, margin)."""
        return max(self.caller_hangs_up_after_ms, self.give_up_ms) / 1000 + 20

    def _fill(self, text: str) -> str:
        return (
            text.replace("@DOMAIN@", DOMAIN)
            .replace("@CALL_MS@", str(self.caller_hangs_up_after_ms))
            .replace("@BYE_WAIT_MS@", "4000")
            .replace("@A2@", f"{ADDRESSES['A2']}:{PORT}")
            .replace("@CONTACT@", self.callee_contact)
        )

    def caller_xml(self) -> str:
        return self._fill(_template(self.caller_template))

    def refreshed_target_xml(self) -> str:
        return self._fill(_template(self.refreshed_target_template))

    def callee_xml(self) -> str:
        if self.callee_template:
            return self._fill(_template(self.callee_template))
        if self.callee_rejects:
            return _template("callee-reject.xml")
        record_route = "[last_Record-Route:]" if self.callee_copies_record_route else ""
        answers: list[str] = []
        waits = answer_waits_ms(self.answer_retransmissions)
        for index, wait in enumerate(waits):
            on_timeout = "no_ack" if index == len(waits) - 1 else f"answer{index + 1}"
            answers.append(_template("answer.xml").rstrip("\n"))
            answers.append(
                f'  <recv request="ACK" timeout="{wait}" ontimeout="{on_timeout}" next="acked"/>'
            )
            if index < len(waits) - 1:
                answers.append(f'  <label id="answer{index + 1}"/>')
        text = (
            _template("callee.xml")
            .replace("@ANSWERS@", "\n".join(answers))
            .replace("@DOMAIN@", DOMAIN)
            .replace("@CONTACT@", self.callee_contact)
            .replace("@BYE_WAIT_MS@", "2000")
        )
        if record_route:
            return text.replace("@RECORD_ROUTE@", record_route)
        # Drop the whole line so the 200 OK has no empty header line.
        return "\n".join(line for line in text.splitlines() if "@RECORD_ROUTE@" not in line) + "\n"

    def proxy_configs(self) -> dict[str, str]:
        template = _template("proxy.cfg")
        return {role.name: role.config(template) for role in self.proxies}


def _template(name: str) -> str:
    return resources.files("rtcscope.testbed").joinpath("data", name).read_text("utf-8")


def _sock(proto: str, name: str) -> str:
    return f"{proto}:{ADDRESSES[name]}:{PORT}"


def _uri(name: str, tcp: bool = False) -> str:
    return f"sip:{ADDRESSES[name]}:{PORT}" + (";transport=tcp" if tcp else "")


def _proxies(
    *,
    c_in_dialog: str = _LOOSE_ROUTE,
    c_record_route: str = _RECORD_ROUTE,
    tcp_between_proxies: bool = False,
    d_alias_target: str = "",
) -> tuple[ProxyRole, ...]:
    proto = "tcp" if tcp_between_proxies else "udp"
    b_listen = [_sock("udp", "B"), _sock("udp", "B2")]
    c_listen = [_sock("udp", "C")]
    d_listen = [_sock("udp", "D")]
    if tcp_between_proxies:
        b_listen.append(_sock("tcp", "B2"))
        c_listen.append(_sock("tcp", "C"))
        d_listen.append(_sock("tcp", "D"))
    b = ProxyRole(
        name="B",
        listen=tuple(b_listen),
        # B faces A on one address and C on the other: it sends on the C-facing socket, so
        # record_route() writes two Record-Route values (one per interface).
        initial=(
            f'\t$du = "{_uri("C", tcp_between_proxies)}";\n'
            f"\tforce_send_socket({proto}:{ADDRESSES['B2']}:{PORT});\n"
            "\tt_relay();"
        ),
        double_rr=True,
    )
    c = ProxyRole(
        name="C",
        listen=tuple(c_listen),
        initial=f'\t$du = "{_uri("D", tcp_between_proxies)}";\n\tt_relay();',
        in_dialog=c_in_dialog,
        record_route=c_record_route,
        next_hop=_uri("D", tcp_between_proxies),
        double_rr=tcp_between_proxies,
    )
    d = ProxyRole(
        name="D",
        listen=tuple(d_listen),
        # D owns the callee's domain: it may rewrite the initial Request-URI (16.5).
        initial=f'\t$ru = "sip:service@{ADDRESSES["E"]}:{PORT}";\n\tt_relay();',
        # Over TCP D receives on TCP and sends on UDP: two Record-Route values.
        double_rr=True,
        in_dialog=_ALIAS_ROUTE if d_alias_target else _LOOSE_ROUTE,
        alias_target=d_alias_target,
    )
    return (b, c, d)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="good",
            summary="the good call: A -> B (two interfaces, double Record-Route) -> C -> D -> E; "
            "the ACK follows the route set B, B, C, D and reaches E; A hangs up after 1 s",
            proxies=_proxies(),
        ),
        Scenario(
            name="unreachable-contact",
            summary="E's 200 OK advertises a Contact port where nothing listens: D forwards the "
            "ACK on the Request-URI and gets ICMP port unreachable; E retransmits its 200 OK "
            "for 64*T1 and hangs up",
            proxies=_proxies(),
            callee_contact=f"{ADDRESSES['E']}:{UNREACHABLE_CONTACT_PORT}",
            caller_hangs_up_after_ms=TIMER_64T1_MS + 3_000,
            expect_ack_at_callee=False,
        ),
        Scenario(
            name="no-loose-route",
            summary="C forwards in-dialog requests without loose_route(): its Route value stays, "
            "D sends the ACK back to C, and the ACK loops C <-> D until Max-Forwards is 0",
            proxies=_proxies(c_in_dialog=_SKIP_LOOSE_ROUTE),
            caller_hangs_up_after_ms=TIMER_64T1_MS + 3_000,
            expect_ack_at_callee=False,
        ),
        Scenario(
            name="rewrite-ruri",
            summary="C rewrites the Request-URI of in-dialog requests (to "
            f"{REWRITTEN_TARGET}); D forwards the ACK there and gets ICMP port unreachable",
            proxies=_proxies(c_in_dialog=_REWRITE_RURI),
            caller_hangs_up_after_ms=TIMER_64T1_MS + 3_000,
            expect_ack_at_callee=False,
        ),
        Scenario(
            name="no-record-route",
            summary="E's 200 OK does not copy Record-Route (RFC 3261 12.1.1): A has no route set "
            "and sends the ACK to its outbound proxy B with no Route; B drops it",
            proxies=_proxies(),
            callee_copies_record_route=False,
            caller_hangs_up_after_ms=TIMER_64T1_MS + 3_000,
            expect_ack_at_callee=False,
        ),
        Scenario(
            name="strict-router",
            summary="C is a strict router (Record-Route without ;lr): B rewrites the ACK for it "
            "(16.6 step 6), C replaces the Request-URI with D, D restores the Contact (16.4); "
            "the call works",
            proxies=_proxies(
                c_in_dialog=_STRICT_ROUTER,
                c_record_route=_STRICT_RECORD_ROUTE,
            ),
        ),
        Scenario(
            name="busy",
            summary="E declines with 486 Busy Here: every hop's client transaction ACKs the "
            "486 it received, on the same hop with the INVITE's branch (RFC 3261 17.1.1.3)",
            proxies=_proxies(),
            callee_rejects=True,
        ),
        Scenario(
            name="reinvite-target",
            summary="A re-INVITEs with Contact A2 (a target refresh, RFC 3261 12.2.2 at E); E's "
            "BYE goes to A2 along the unchanged route set and A2 answers it",
            proxies=_proxies(),
            caller_template="caller-reinvite.xml",
            callee_template="callee-refreshed.xml",
            refreshed_target_template="refreshed-target.xml",
            caller_hangs_up_after_ms=4_000,
        ),
        Scenario(
            name="reinvite-target-unreachable",
            summary="the re-INVITE's new Contact A2 has nobody listening: B forwards E's BYE "
            "there and gets ICMP port unreachable",
            proxies=_proxies(),
            caller_template="caller-reinvite.xml",
            callee_template="callee-refreshed.xml",
            caller_hangs_up_after_ms=6_000,
        ),
        Scenario(
            name="update-target",
            summary="E sends an UPDATE; A answers 200 with Contact A2 (a target refresh E applies "
            "on the 2xx, RFC 3261 12.2.1.2, RFC 3311); E's BYE goes to A2",
            proxies=_proxies(),
            caller_template="caller-update.xml",
            callee_template="callee-update.xml",
            refreshed_target_template="refreshed-target.xml",
            caller_hangs_up_after_ms=4_000,
        ),
        Scenario(
            name="strict-middle",
            summary="C writes its Record-Route without ;lr but routes loosely (kamailio "
            "loose_route()): B treats it as strict (16.6 step 6), C restores the Request-URI "
            "from the last Route (16.4); the call completes",
            proxies=_proxies(c_record_route=_STRICT_RECORD_ROUTE),
        ),
        Scenario(
            name="alias-last-hop",
            summary=f"E's Contact names the host {CALLEE_ALIAS}; D (no Route left) resolves it "
            "to E's address by local policy; the ACK and BYE arrive",
            proxies=_proxies(d_alias_target=ADDRESSES["E"]),
            callee_contact=f"{CALLEE_ALIAS}:{PORT}",
        ),
        Scenario(
            name="alias-dead",
            summary=f"as alias-last-hop, but D resolves {CALLEE_ALIAS} to {ADDRESSES['DEAD']}, "
            "where nothing listens: ICMP port unreachable, E retransmits its 200 OK for 64*T1",
            proxies=_proxies(d_alias_target=ADDRESSES["DEAD"]),
            callee_contact=f"{CALLEE_ALIAS}:{PORT}",
            caller_hangs_up_after_ms=TIMER_64T1_MS + 3_000,
            expect_ack_at_callee=False,
        ),
        Scenario(
            name="prack-ringing",
            summary="E answers with a reliable 183 (RFC 3262), A PRACKs it, E answers the PRACK "
            "and keeps ringing: the capture ends while the call rings",
            proxies=_proxies(),
            caller_template="caller-prack.xml",
            callee_template="callee-prack.xml",
            caller_hangs_up_after_ms=3_000,
        ),
        Scenario(
            name="reinvite-488",
            summary="A re-INVITEs offering T.38; E refuses with 488 Not Acceptable Here; every "
            "hop ACKs the 488; A hangs up",
            proxies=_proxies(),
            caller_template="caller-reinvite-488.xml",
            callee_template="callee-488.xml",
        ),
        Scenario(
            name="cancel",
            summary="A cancels while E rings: 200 to the CANCEL, 487 to the INVITE, ACKed hop by "
            "hop",
            proxies=_proxies(),
            caller_template="caller-cancel.xml",
            callee_template="callee-cancel.xml",
        ),
        Scenario(
            name="tcp",
            summary="the good call with SIP over TCP between the proxies (B -> C -> D), UDP at "
            "the edges; D receives on TCP and sends on UDP, so it double-Record-Routes too",
            proxies=_proxies(tcp_between_proxies=True),
        ),
    )
}
