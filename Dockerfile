# rtcscope with the peers it calls (tshark, sipp, sngrep, sox, ffmpeg), installed from this
# checkout. Build: `docker build -t rtcscope .` (or `make image`, which builds it with buildah).
# Run:   docker run --rm -v "$PWD:/data" rtcscope analyze /data/x.pcap -o /data/out
# Lint:  rtcscope dockerfile lint Dockerfile --hadolint  (both linters find nothing)
FROM debian:12-slim AS build

# The C accelerators (setup.py) need a compiler and Python's headers: this stage only. Without
# them pip builds rtcscope quietly without its accelerators (optional=True); the last step
# fails the build instead.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        gcc \
        libc6-dev \
        python3-dev \
        python3-venv \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/rtcscope
COPY pyproject.toml setup.py MANIFEST.in constraints.txt README.md LICENSE ./
COPY src ./src
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt . \
    && /opt/venv/bin/python -c "import rtcscope.capture.info as i, rtcscope.sip.calls as c; \
        import rtcscope.sip.message as m, rtcscope.sip.routing as r; \
        import rtcscope.slotted as s, rtcscope.timebase as t; \
        import rtcscope.sip.diagnosis.model as p, rtcscope.sip.diagnosis as d; \
        import rtcscope.sip.capture as a, rtcscope.capture.reader as w; \
        import rtcscope.capture.fastscan as f; \
        roads = (m.ROAD, c.WALK_ROAD, t.ROAD, r.ROUTE_SCAN_ROAD, i.START_LINE_ROAD, s.ROAD, \
            p.PATHS_JSON_ROAD, d.USUAL_CALL_ROAD, c.COUNTS_ROAD, a.ANNOUNCER_ROAD, \
            w.RECORD_WALK_ROAD, c.CALLS_TEXT_ROAD, c.MESSAGES_ROAD, \
            f.ADDRESS_TEXT_ROAD); \
        assert roads == ('c',) * 14, roads"

FROM debian:12-slim

# Debian's peers, one RUN that updates, installs and drops the lists (cache busting).
# Versions are not pinned: a pin breaks the build when the mirror drops that version.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ffmpeg \
        python3 \
        sip-tester \
        sngrep \
        sox \
        tshark \
    && rm -rf /var/lib/apt/lists/*

# rtcscope and its Python packages, built above (the same Debian, so the same python3).
COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH
WORKDIR /data
ENTRYPOINT ["rtcscope"]
CMD ["--help"]
