#!/usr/bin/python3
"""Check a strata results directory against docs/schema/*.schema.json.

usage: check_run.py RUN_DIR [--incomplete] [--allow STATUS ...] [--expect-cases N]

Validates manifest.json and every line of results.jsonl against the JSON
schemas, checks that each record's run_id matches the manifest, that every
record's status is 'passed' (or one of --allow), that a complete run has one
record per planned case and variant, and that mllog.txt lines are MLLOG JSON.
Exits non-zero with a message on the first problem.
"""
import argparse
import json
import os
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.join(HERE, "..", "..", "docs", "schema")


def fail(msg):
    print("check_run: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def load_schema(name):
    with open(os.path.join(SCHEMA_DIR, name)) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--incomplete", action="store_true", help="the run must be marked incomplete")
    ap.add_argument("--allow", nargs="*", default=[], help="statuses accepted besides passed")
    ap.add_argument("--expect-cases", type=int, default=None)
    ap.add_argument("--require-suites", nargs="*", default=[])
    a = ap.parse_args()

    manifest_schema = load_schema("manifest.schema.json")
    record_schema = load_schema("record.schema.json")
    with open(os.path.join(a.run_dir, "manifest.json")) as f:
        manifest = json.load(f)
    try:
        jsonschema.validate(manifest, manifest_schema)
    except jsonschema.ValidationError as e:
        fail("manifest.json: %s at %s" % (e.message, list(e.absolute_path)))
    if manifest["complete"] == a.incomplete:
        fail("manifest says complete=%s" % manifest["complete"])

    records = []
    with open(os.path.join(a.run_dir, "results.jsonl")) as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                fail("results.jsonl:%d does not parse: %s" % (n, e))
            try:
                jsonschema.validate(rec, record_schema)
            except jsonschema.ValidationError as e:
                fail("results.jsonl:%d (%s): %s at %s" % (n, rec.get("metric_key"), e.message,
                                                        list(e.absolute_path)))
            if rec["run_id"] != manifest["run_id"]:
                fail("results.jsonl:%d run_id %s != manifest %s" % (n, rec["run_id"], manifest["run_id"]))
            if rec["status"] != "passed" and rec["status"] not in a.allow:
                fail("results.jsonl:%d %s: status %s: %s" % (n, rec["metric_key"], rec["status"],
                                                           rec.get("reason", "")))
            records.append(rec)

    planned = len(manifest["plan"]["cases"]) * len(manifest["plan"]["variants"])
    if manifest["complete"] and len(records) != planned:
        fail("complete run has %d records, plan has %d cases" % (len(records), planned))
    if a.expect_cases is not None and len(records) != a.expect_cases:
        fail("%d records, expected %d" % (len(records), a.expect_cases))
    keys = [r["metric_key"] for r in records]
    if len(set(keys)) != len(keys):
        fail("duplicate metric keys")
    suites = {r["suite"] for r in records}
    for s in a.require_suites:
        if s not in suites:
            fail("no record of suite %s" % s)

    with open(os.path.join(a.run_dir, "mllog.txt")) as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        if not line.startswith(":::MLLOG "):
            fail("mllog.txt:%d lacks the :::MLLOG prefix" % n)
        ev = json.loads(line[len(":::MLLOG "):])
        for k in ("namespace", "time_ms", "event_type", "key", "value", "metadata"):
            if k not in ev:
                fail("mllog.txt:%d lacks %s" % (n, k))
        if ev["event_type"] not in ("POINT_IN_TIME", "INTERVAL_START", "INTERVAL_END"):
            fail("mllog.txt:%d bad event_type" % n)
    if not lines or json.loads(lines[0][9:])["key"] != "run_start":
        fail("mllog.txt does not open with run_start")
    print("check_run: OK: %s: %d records (%s), complete=%s" %
          (a.run_dir, len(records), ", ".join(sorted(suites)), manifest["complete"]))


if __name__ == "__main__":
    main()
