"""`make image` builds rtcscope's own image with buildah, and `rtcscope analyze` runs in it.

Opt-in (RTCSCOPE_IMAGE_TEST=1): debootstrap plus the build take several minutes on two
cores (the base image is made once and kept in buildah's vfs storage), more than the
suite's budget allows on every CI run.
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import DATA, ROOT
from tests.peers import program, run, tshark_fields

IMAGE = "rtcscope-test"
BUILDAH = ["--storage-driver", "vfs"]
# Each C accelerator's road (setup.py): "c" where it was built and is used.
ROADS = (
    "import rtcscope.capture.info as i, rtcscope.sip.calls as c, rtcscope.sip.message as m, "
    "rtcscope.sip.routing as r, rtcscope.slotted as s, rtcscope.timebase as t, "
    "rtcscope.sip.diagnosis.model as p, rtcscope.sip.diagnosis as d, rtcscope.sip.capture as a, "
    "rtcscope.capture.reader as w, rtcscope.capture.fastscan as f; "
    "print(m.ROAD, c.WALK_ROAD, t.ROAD, r.ROUTE_SCAN_ROAD, i.START_LINE_ROAD, s.ROAD, "
    "p.PATHS_JSON_ROAD, d.USUAL_CALL_ROAD, c.COUNTS_ROAD, a.ANNOUNCER_ROAD, w.RECORD_WALK_ROAD, "
    "c.CALLS_TEXT_ROAD, c.MESSAGES_ROAD, f.ADDRESS_TEXT_ROAD)"
)


@pytest.mark.peer
@pytest.mark.slow
def test_image_builds_and_runs_analyze(tmp_path) -> None:
    if os.environ.get("RTCSCOPE_IMAGE_TEST") != "1":
        pytest.skip("set RTCSCOPE_IMAGE_TEST=1 to build the image (several minutes)")
    program("debootstrap")
    run("make", ["image", f"IMAGE={IMAGE}"], cwd=ROOT, timeout=3600)
    capture = tmp_path / "call.pcap"
    shutil.copy(DATA / "sip-rtp-opus.pcap", capture)
    container = run("buildah", [*BUILDAH, "from", "--pull-never", IMAGE]).stdout.strip()
    try:
        result = run(
            "buildah",
            [*BUILDAH, "run", "--isolation", "chroot", "-v", f"{tmp_path}:/data", container,
             "--", "rtcscope", "analyze", "/data/call.pcap", "-o", "/data/out"],
            timeout=600,
        )  # fmt: skip
        inside = run(
            "buildah",
            [*BUILDAH, "run", "--isolation", "chroot", "-v", f"{tmp_path}:/data", container,
             "--", "tshark", "-n", "-r", "/data/call.pcap", "-T", "fields", "-e", "frame.number"],
        )  # fmt: skip
        roads = run(
            "buildah",
            [*BUILDAH, "run", "--isolation", "chroot", container, "--", "python", "-c", ROADS],
        )  # fmt: skip
    finally:
        run("buildah", [*BUILDAH, "rm", container], check=False)
    assert roads.stdout.split() == ["c"] * 14  # the C roads were built into the image and are used
    frames = len(tshark_fields(capture, ["frame.number"]))
    assert f"packets               {frames}\n" in result.stdout
    assert len(inside.stdout.split()) == frames  # tshark in the image reads it as ours does
    wavs = list((tmp_path / "out").glob("stream-*.wav"))
    assert wavs, sorted(p.name for p in (tmp_path / "out").iterdir())
    assert float(run("soxi", ["-D", wavs[0]]).stdout) > 5.0
