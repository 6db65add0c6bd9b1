# The developer interface in one screen. Every target works from a fresh clone.
.PHONY: install run test bench lint schema

install:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'

run: install
	.venv/bin/dialer validate && .venv/bin/dialer plan campaigns/q4.yaml

test:
	./scripts/test

bench: install
	.venv/bin/python bench/run.py

lint: install
	.venv/bin/ruff check dialer tests bench && .venv/bin/ruff format --check dialer tests bench
	.venv/bin/dialer schema | diff -q - campaigns/campaign.schema.json

schema: install
	.venv/bin/dialer schema > campaigns/campaign.schema.json
