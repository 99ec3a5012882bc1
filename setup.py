"""The optional C accelerators of rtcscope.sip.message and rtcscope.timebase (everything else
is in pyproject.toml).

``optional=True``: without a compiler or Python's headers the build of the extension fails
quietly and rtcscope runs its pure-Python road (``rtcscope.sip.message.ROAD`` and
``rtcscope.timebase.ROAD`` say which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "rtcscope.sip._sipscan",
            sources=["src/rtcscope/sip/_sipscan.c"],
            optional=True,
        ),
        Extension(
            "rtcscope._timetext",
            sources=["src/rtcscope/_timetext.c"],
            optional=True,
        ),
    ]
)
