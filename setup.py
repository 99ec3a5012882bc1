"""The optional C accelerator of rtcscope.sip.message (everything else is in pyproject.toml).

``optional=True``: without a compiler or Python's headers the build of the extension fails
quietly and rtcscope runs its pure-Python road (``rtcscope.sip.message.ROAD`` says which).
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
            "rtcscope.sip._callwalk",
            sources=["src/rtcscope/sip/_callwalk.c"],
            optional=True,
        ),
    ]
)
