#!/usr/bin/env bash
# git's work on a small repository: init, FILES files added and committed, several rounds of
# edits committed, then log with patches, a blame and a gc, in a temporary directory.  The
# shell's and every git process's allocations go through the allocator under test (LD_PRELOAD
# is inherited).
#   git_work.sh [FILES]   (default 400)
set -eu
files=${1:-400}
dir=$(mktemp -d "${TMPDIR:-/tmp}/hz3git.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=bench \
  GIT_COMMITTER_EMAIL=bench@example.org GIT_AUTHOR_DATE=2026-01-01T00:00:00Z \
  GIT_COMMITTER_DATE=2026-01-01T00:00:00Z GIT_CONFIG_NOSYSTEM=1 HOME=$dir
git init -q .
for ((i = 0; i < files; i++)); do
  seq "$i" $((i + 200)) | sed "s/^/line $i /" >"f$i.txt"
done
git add -A && git commit -qm initial
for round in 1 2 3 4 5; do
  for ((i = round; i < files; i += 7)); do echo "round $round edit $i" >>"f$i.txt"; done
  git commit -qam "round $round"
done
echo "git_work files=$files log_lines=$(git log -p | wc -l) blame_lines=$(git blame f1.txt | wc -l)"
git gc -q
