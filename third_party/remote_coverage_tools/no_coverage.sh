#!/bin/sh
echo "coverage is not available in this offline build; use gcov/lcov outside Bazel" >&2
exit 1
