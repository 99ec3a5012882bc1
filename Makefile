# rtcscope: the two commands of the README's quick start, and their helpers.
# Preconditions: Debian 12, Python 3.11, make, root (apt-get is used for the peers).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_CAPTURE := tests/data/sip-rtp-opus.pcap
DEMO_OUT := demo-out

# Every Debian package whose programs the tests or benches call (tests/test_install_line.py
# checks this line against the programs the tests use).
APT_PACKAGES := tshark wireshark-common tcpdump tcpreplay sip-tester kamailio \
	sngrep sox opus-tools ffmpeg iproute2 procps bash make buildah debootstrap \
	chromium chromium-driver

.PHONY: venv install demo test peers lint bench clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed: installing python3-venv"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv python3-pip && \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }

venv: $(BIN)/python

# The C accelerators (setup.py: SIP parse and SDP, call walk, time texts) need a C compiler
# and Python's headers; without them the install still works and the pure-Python road runs (slower). On Debian as root,
# what is missing is installed first (python3-dev for Debian's python3, gcc).
HAVE_C_BUILD = $(BIN)/python -c 'import os, shutil, sys, sysconfig; \
	headers = os.path.join(sysconfig.get_paths()["include"], "Python.h"); \
	cc = (sysconfig.get_config_var("CC") or "cc").split()[0]; \
	sys.exit(not (os.path.exists(headers) and shutil.which(cc)))'

# Every C accelerator's source (setup.py lists them) and the headers they share: an edit to
# one rebuilds the install.
C_SOURCES = $(wildcard src/rtcscope/*.c src/rtcscope/*/*.c src/rtcscope/*.h src/rtcscope/*/*.h)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt setup.py $(C_SOURCES)
	@$(HAVE_C_BUILD) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing a C compiler and Python's headers for the SIP accelerator"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc python3-dev \
	      || echo "could not: rtcscope will run its pure-Python SIP parse"; \
	  else echo "no C compiler or Python headers: rtcscope will run its pure-Python SIP parse"; fi; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	rm -rf $(DEMO_OUT)
	$(BIN)/rtcscope analyze $(DEMO_CAPTURE) -o $(DEMO_OUT)
	@echo "demo: files written to $(DEMO_OUT)/"; ls -l $(DEMO_OUT)

peers:
	DEBIAN_FRONTEND=noninteractive apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(APT_PACKAGES)

test: install peers lint
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src

bench: install peers
	for b in bench/*/run.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info src/*.egg-info

# make testbed SCENARIO=good: run one SIP test-bed scenario (sipp + kamailio on 127.0.10.0/24,
# captured with tcpdump) and keep testbed-SCENARIO.pcap; `python -m rtcscope.testbed -h` lists them.
SCENARIO ?= good
.PHONY: testbed
testbed: install
	$(BIN)/python -m rtcscope.testbed $(SCENARIO) -o testbed-$(SCENARIO).pcap

# make image: rtcscope's own image (./Dockerfile) built with buildah: no daemon, no registry.
# No engine can pull base images here, so `debian:12-slim` is made locally: debootstrap
# --variant=minbase bookworm from this machine's configured Debian mirror, imported as a
# rootfs tar under that name, and the build runs with --pull=never. pip inside the build
# trusts this machine's CA bundle (a read-only mount at /run/build-ca.crt, named by a pip.conf
# mounted for the build only): nothing of it stays in the image.
IMAGE ?= rtcscope
BUILDAH := buildah --storage-driver vfs
DEBIAN_MIRROR ?= $(or $(shell sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1),http://deb.debian.org/debian)
BASE_ROOTFS := build/debian-12-slim-rootfs.tar
HOST_CA := /etc/ssl/certs/ca-certificates.crt
IMAGE_PIP_CONF := build/image-pip.conf
IMAGE_MOUNTS := $(if $(wildcard $(HOST_CA)),--volume $(HOST_CA):/run/build-ca.crt:ro \
	--volume $(abspath $(IMAGE_PIP_CONF)):/etc/pip.conf:ro)
.PHONY: image
$(BASE_ROOTFS):
	mkdir -p build && rm -rf build/rootfs
	debootstrap --variant=minbase bookworm build/rootfs $(DEBIAN_MIRROR)
	tar -C build/rootfs -cf $@.part . && mv $@.part $@
	rm -rf build/rootfs

$(IMAGE_PIP_CONF):
	mkdir -p build && printf '[global]\ncert = /run/build-ca.crt\n' > $@

image: $(BASE_ROOTFS) $(IMAGE_PIP_CONF)
	$(BUILDAH) inspect --type image debian:12-slim >/dev/null 2>&1 || { \
	  ctr=$$($(BUILDAH) from scratch) && \
	  $(BUILDAH) add $$ctr $(BASE_ROOTFS) / && \
	  $(BUILDAH) commit --rm $$ctr debian:12-slim; }
	$(BUILDAH) bud --isolation chroot --pull=never $(IMAGE_MOUNTS) -t $(IMAGE) .
