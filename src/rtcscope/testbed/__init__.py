"""A SIP test bed on loopback: sipp caller and callee, three kamailio proxies, tcpdump.

It reproduces "the ACK never arrived" and its causes (see :mod:`rtcscope.testbed.scenarios`)
so that ``rtcscope diagnose`` can be checked against real peers. ``make testbed SCENARIO=good``
or ``python -m rtcscope.testbed good -o good.pcap`` runs one scenario; everything listens in
127.0.10.0/24 and every process is stopped by PID when the run ends.
"""
