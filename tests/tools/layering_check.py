#!/usr/bin/env python3
"""layering_check.py: a box reaches another box only along an arrow its BUILD draws.  Every
#include "box/..." in a box's sources, and every use of another box's API (hz3_<box>_...,
and segment's HZ3_TAG_/HZ3_SEG_ macros), names the box itself or one of the boxes its
cc_library lists in deps, directly: a header reached only through another box's header is an
arrow the design does not draw.  Bazel's own layering_check needs clang modules; this reads
BUILD files and sources as text.  Exit 1 and one line per violation."""
import os
import re
import sys

BOXES = ["base", "segment", "packing", "central", "tcache", "epoch", "purge", "large", "preload"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def library_deps(box):
    """Boxes named in the deps of the box's cc_library named like the box (or, for preload,
    every cc_library in the package)."""
    text = open(os.path.join(ROOT, box, "BUILD")).read()
    deps = set()
    for lib in re.finditer(r"cc_library\((.*?)\n\)", text, re.S):
        body = lib.group(1)
        name = re.search(r'name\s*=\s*"([^"]+)"', body)
        if box != "preload" and (name is None or name.group(1) != box):
            continue
        m = re.search(r"deps\s*=\s*\[(.*?)\]", body, re.S)
        for dep in re.findall(r'"//(\w+)(?::[\w.]+)?"', m.group(1) if m else ""):
            deps.add(dep)
        for dep in re.findall(r'"(:[\w.]+)"', m.group(1) if m else ""):
            deps.add(box)
    return deps


def main():
    bad = []
    for box in BOXES:
        allowed = library_deps(box) | {box, "config"}
        for name in sorted(os.listdir(os.path.join(ROOT, box))):
            if not name.endswith((".c", ".h")) or name.endswith("_test.cc"):
                continue
            for n, line in enumerate(open(os.path.join(ROOT, box, name)), 1):
                m = re.match(r'\s*#\s*include\s+"(\w+)/', line)
                if m and m.group(1) in BOXES and m.group(1) not in allowed:
                    bad.append("%s/%s:%d: includes %s/ but //%s has no dep on //%s"
                               % (box, name, n, m.group(1), box, m.group(1)))
                code = re.sub(r'"(\\.|[^"\\])*"', '""', line.split("//")[0])  # no strings
                used = set(re.findall(r"\bhz3_(" + "|".join(BOXES) + r")_\w+", code))
                if re.search(r"\bHZ3_(TAG|SEG)_\w+", code):
                    used.add("segment")
                for other in sorted(used - allowed - {"preload"}):
                    bad.append("%s/%s:%d: uses //%s's API but //%s has no dep on it"
                               % (box, name, n, other, box))
    for line in bad:
        print(line)
    print("layering: %d boxes, %d violations" % (len(BOXES), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
