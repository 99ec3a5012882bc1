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
	sngrep sox opus-tools ffmpeg iproute2 procps chromium chromium-driver

.PHONY: venv install demo test peers lint bench clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed: installing python3-venv"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv python3-pip && \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }

venv: $(BIN)/python

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
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
