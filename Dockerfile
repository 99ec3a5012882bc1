# rtcscope with the peers it calls (tshark, sipp, sngrep, sox, ffmpeg), installed from this
# checkout. Build: `docker build -t rtcscope .` (or `make image`, which builds it with buildah).
# Run:   docker run --rm -v "$PWD:/data" rtcscope analyze /data/x.pcap -o /data/out
# Lint:  rtcscope dockerfile lint Dockerfile --hadolint  (both linters find nothing)
FROM debian:12-slim

# Debian's peers, one RUN that updates, installs and drops the lists (cache busting).
# Versions are not pinned: a pin breaks the build when the mirror drops that version.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ffmpeg \
        python3 \
        python3-venv \
        sip-tester \
        sngrep \
        sox \
        tshark \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/rtcscope
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY src ./src
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt . \
    && rm -rf /opt/rtcscope/build

ENV PATH=/opt/venv/bin:$PATH
WORKDIR /data
ENTRYPOINT ["rtcscope"]
CMD ["--help"]
