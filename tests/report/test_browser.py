"""The report opened in headless Chromium (Debian's chromium + chromium-driver, driven by
selenium with explicit paths, one browser for every page): no console errors, no request
other than file: and data: URLs, a section for every INVITE Call-ID tshark finds, every SVG
drawn with a non-zero size, a click on a ladder arrow shows its message, and a relative WAV
reaches readyState 4 and plays. A screenshot of each page is kept beside the test's files
(and copied to $RTCSCOPE_ARTEFACTS when set)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtcscope.cli import main
from rtcscope.report import write_report
from tests.conftest import DATA
from tests.peers import program, tshark_fields

CAPTURES = [
    "sip-rtp-opus.pcap",
    "SIP_DTMF2.pcap",
    "aaa.pcap",
    "testbed-unreachable-contact.pcap",  # the ACK never reaches the callee: a failed ACK path
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_AVOID_STATS"] = "true"  # selenium would otherwise report usage online
    options = webdriver.ChromeOptions()
    options.binary_location = program("chromium")
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        "--window-size=1300,1800",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(program("chromedriver")), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _requested_urls(driver: Any, page: str) -> list[str]:
    """Every request made for ``page`` (Chromium's own new-tab page, which may still be
    loading its favicons in the background when the test starts, is another document)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            params = message["params"]
            if params.get("documentURL", "").split("#")[0] == page:
                urls.append(params["request"]["url"])
    return urls


@pytest.mark.peer
@pytest.mark.slow
def test_report_pages_in_chromium(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    artefacts = os.environ.get("RTCSCOPE_ARTEFACTS")
    for name in CAPTURES:
        capture = DATA / name
        out = tmp_path / f"{Path(name).stem}.html"
        write_report(capture, out, extract_audio=True)
        page = out.read_text()
        assert "<script" not in page  # readable without JavaScript: there is none
        browser.get_log("performance")  # forget the previous page's requests
        browser.get(out.as_uri())

        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], (name, errors)
        urls = _requested_urls(browser, out.as_uri())
        assert urls, name
        assert all(u.startswith(("file:", "data:")) for u in urls), (name, urls)

        wanted = {r[0] for r in tshark_fields(capture, ["sip.Call-ID"], 'sip.Method == "INVITE"')}
        shown = browser.execute_script(
            "return [...document.querySelectorAll('section.call')]"
            ".map(s => s.dataset.callIds.split(' '))"
        )
        assert wanted, name
        for call_id in wanted:
            assert any(call_id in ids for ids in shown), (name, call_id)

        sizes = browser.execute_script(
            "return [...document.querySelectorAll('svg')].map(s => {"
            "const r = s.getBoundingClientRect(); return [r.width, r.height]; })"
        )
        assert sizes and all(w > 0 and h > 0 for w, h in sizes), (name, sizes)

        # a click on the first SIP arrow of the first ladder shows that message
        arrow = browser.find_element("css selector", "section.call svg a")
        target = browser.execute_script("return arguments[0].getAttribute('href')", arrow)[1:]
        arrow.click()
        assert browser.current_url.endswith("#" + target)
        shown_pre = browser.execute_script(
            "const p = document.getElementById(arguments[0]).querySelector('pre');"
            "return [getComputedStyle(p).display, p.textContent];",
            target,
        )
        assert shown_pre[0] == "block" and "SIP/2.0" in shown_pre[1], (name, target)

        players = browser.execute_script("return document.querySelectorAll('audio').length")
        if name != "testbed-unreachable-contact.pcap":  # that one carries no RTP
            assert players, name
            src = browser.execute_script("return document.querySelector('audio').src")
            assert src.startswith("file:") and src.endswith(".wav")
            WebDriverWait(browser, 20).until(
                lambda d: d.execute_script("return document.querySelector('audio').readyState") == 4
            )
            started = browser.execute_script(
                "const a = document.querySelector('audio'); a.muted = true;"
                "return a.play().then(() => 'ok', e => 'error: ' + e);"
            )
            assert started == "ok", (name, started)
            # Playing advances currentTime; wait for it rather than a fixed delay (busy CI).
            WebDriverWait(browser, 20).until(
                lambda d: d.execute_script("return document.querySelector('audio').currentTime") > 0
            )

        browser.execute_script("window.scrollTo(0, 0)")
        shot = tmp_path / f"{Path(name).stem}.png"
        assert browser.save_screenshot(str(shot))
        if artefacts:
            Path(artefacts).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(artefacts) / shot.name)

    # `flow --format html`: the same ladder page on its own; a click on an arrow shows it
    flow_page = tmp_path / "flow.html"
    assert (
        main(
            [
                "flow",
                str(DATA / "SIP_DTMF2.pcap"),
                "--call",
                "5",
                "--format",
                "html",
                "-o",
                str(flow_page),
            ]
        )
        == 0
    )
    browser.get(flow_page.as_uri())
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    arrows = browser.find_elements("css selector", "svg a")
    assert len(arrows) == 10  # the call's ten SIP messages (tshark: frames 14-23)
    arrows[6].click()  # the 200 OK with SDP
    target = browser.current_url.split("#", 1)[1]
    text = browser.execute_script(
        "const p = document.getElementById(arguments[0]).querySelector('pre');"
        "return getComputedStyle(p).display === 'block' ? p.textContent : null;",
        target,
    )
    assert text is not None and text.startswith("SIP/2.0 200 OK") and "m=audio" in text
