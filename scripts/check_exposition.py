#!/usr/bin/env python3
"""Reads the pages `dump_pages_for_an_external_parser` wrote with Python's
prometheus_client parser (an independent implementation of the text format
0.0.4) and checks what it reads against the lines written.

    EXPOSITION_DUMP_DIR=/tmp/pages cargo test -p otlp-contrib --test metrics \
        dump_pages_for_an_external_parser -- --ignored
    python3 -m venv venv && venv/bin/pip install prometheus-client
    venv/bin/python scripts/check_exposition.py /tmp/pages
"""
import math
import pathlib
import sys

from prometheus_client.parser import text_string_to_metric_families

TRICKY = {
    "quotes": 'say "hi"',
    "backslash": "C:\\dir\\",
    "newline": "a\nb\n",
    "carriage_return": "a\r\nb",
    "tab": "a\tb",
    "unicode": "é 😀 ü",
    "braces": '}{,=" x="y',
    "empty": "",
    "hash": "# TYPE x counter",
}

failures = 0


def fail(page, message):
    global failures
    failures += 1
    print(f"FAIL {page}: {message}")


def check(path):
    text = path.read_bytes().decode("utf-8")  # no newline translation: a raw CR is data
    page = path.name
    sample_lines = [l for l in text.split("\n") if l and not l.startswith("#")]
    types = {}
    for line in text.split("\n"):
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            if name in types:
                fail(page, f"TYPE {name} twice")
            types[name] = kind
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as error:  # noqa: BLE001
        fail(page, f"parser refused the page: {error}")
        return
    samples = [s for f in families for s in f.samples]
    if len(samples) != len(sample_lines):
        fail(page, f"{len(sample_lines)} sample lines, parser read {len(samples)}")
    seen = set()
    for family in families:
        # prometheus_client drops a counter's _total from the family name.
        declared = types.get(family.name) or types.get(family.name + "_total")
        if declared != family.type:
            fail(page, f"{family.name}: declared {declared}, read {family.type}")
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            if key in seen:
                fail(page, f"series twice: {key}")
            seen.add(key)
            if family.type == "counter" and not (sample.value >= 0):
                fail(page, f"counter {sample.name} = {sample.value}")
            if sample.timestamp is not None:
                fail(page, f"timestamp on {sample.name}")
            case = sample.labels.get("case")
            if case is not None and sample.labels.get("value") != TRICKY[case]:
                fail(page, f"{case}: read {sample.labels.get('value')!r}, wanted {TRICKY[case]!r}")
            if family.type == "summary" and sample.name == family.name:
                q = float(sample.labels["quantile"])
                if not 0 <= q <= 1:
                    fail(page, f"quantile {q}")
    print(f"ok?  {page}: {len(families)} families, {len(samples)} samples"
          f" ({sum(1 for s in samples if math.isnan(s.value))} NaN)")


for path in sorted(pathlib.Path(sys.argv[1]).glob("*.txt")):
    check(path)
print("failures:", failures)
sys.exit(1 if failures else 0)
