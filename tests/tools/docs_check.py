#!/usr/bin/env python3
"""docs_check.py: docs/api.md names everything a user can reach.  Every symbol preload/hz3.map
exports (C++ operators aside: the page covers them as a group), every statistics field of
base/hz3_stats_struct.h and every run-time option preload/hz3_process.c reads must appear on
the page in backquotes.  Exit 1 and one line per name the page lacks."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def exported_functions():
    text = read("preload/hz3.map")
    block = re.search(r"global:(.*?)local:", text, re.S).group(1)
    return [s for s in re.findall(r"(\w+);", block) if not s.startswith("_Z")]


def stats_fields():
    return re.findall(r"^\s*X\((\w+),", read("base/hz3_stats_struct.h"), re.M)


def options():
    return re.findall(r'\{"(HZ3_[A-Z_]+)",', read("preload/hz3_process.c"))


def main():
    page = read("docs/api.md")
    quoted = set()
    for span in re.findall(r"`([^`]+)`", page):
        quoted.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span))
    missing = []
    for kind, names in (("exported function", exported_functions()),
                        ("statistics field", stats_fields()), ("run-time option", options())):
        if not names:
            missing.append(f"no {kind}s found: the parser no longer matches its source")
        missing += [f"docs/api.md: {kind} {n} is not described" for n in names if n not in quoted]
    for line in missing:
        print(line)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
