"""The optional C accelerators of rtcscope (everything else is in pyproject.toml):
rtcscope.sip._sipscan (the SIP parse and SDP template of rtcscope.sip.message / sdp, the
batch framing and SDP announcer of rtcscope.sip.capture),
rtcscope.sip._callwalk (the call walk, transaction grouping, calls by Call-ID, SDP lists and
link-header probe of rtcscope.sip.calls / transactions / dialogs), rtcscope._timetext
(rtcscope.timebase's time texts, a call's JSON object and its JSON text),
rtcscope.sip._routescan (rtcscope.sip.routing's Route, Max-Forwards, Contact and target reads,
the usual call's diagnosis), rtcscope.sip._pathdict (the diagnosis's request paths as JSON
text), rtcscope.capture._startline (the counts tap's SIP start line match, capture.info, and
the batch road's IPv4 address texts, capture.fastscan),
rtcscope.capture._records (the batch record walk of capture.reader) and
rtcscope._slots (slotted objects made from columns: rtcscope.slotted, the RTP stream scanner).

``optional=True``: without a compiler or Python's headers the build of an extension fails
quietly and rtcscope runs its pure-Python road (``rtcscope.sip.message.ROAD``,
``rtcscope.sip.calls.WALK_ROAD`` / ``CALLS_TEXT_ROAD``, ``rtcscope.sip.transactions.GROUP_ROAD``,
``rtcscope.timebase.ROAD``, ``rtcscope.sip.routing.ROUTE_SCAN_ROAD``,
``rtcscope.sip.diagnosis.model.PATHS_JSON_ROAD``, ``rtcscope.capture.info.START_LINE_ROAD``,
``rtcscope.capture.fastscan.ADDRESS_TEXT_ROAD``, ``rtcscope.capture.reader.RECORD_WALK_ROAD``
and ``rtcscope.slotted.ROAD`` say which).
"""

from glob import glob

from setuptools import Extension, setup

_HEADERS = sorted(glob("src/rtcscope/*.h"))

setup(
    ext_modules=[
        # (the headers the sources include: an edit to one rebuilds them)
        Extension(name, sources=[source], depends=_HEADERS, optional=True)
        for name, source in (
            ("rtcscope.sip._sipscan", "src/rtcscope/sip/_sipscan.c"),
            ("rtcscope.sip._callwalk", "src/rtcscope/sip/_callwalk.c"),
            ("rtcscope._timetext", "src/rtcscope/_timetext.c"),
            ("rtcscope.sip._routescan", "src/rtcscope/sip/_routescan.c"),
            ("rtcscope.capture._startline", "src/rtcscope/capture/_startline.c"),
            ("rtcscope._slots", "src/rtcscope/_slots.c"),
            ("rtcscope.sip._pathdict", "src/rtcscope/sip/_pathdict.c"),
            ("rtcscope.capture._records", "src/rtcscope/capture/_records.c"),
        )
    ]
)
