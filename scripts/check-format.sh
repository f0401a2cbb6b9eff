#!/usr/bin/env bash
# Checks formatting without changing anything: fantomas for F#, `dotnet format` for C#.
# Prints one line per check ("format fantomas: passed|failed") and exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
# .fantomasignore: one path per line, or a folder ending in '/'; '#' starts a comment.
ignored=$(grep -v -e '^#' -e '^$' .fantomasignore 2>/dev/null || true)
fs_files=$(git ls-files '*.fs' '*.fsx' | while read -r f; do
  skip=0
  for pattern in $ignored; do
    case "$f" in "$pattern" | "$pattern"*) [ "${pattern%/}" != "$pattern" ] || [ "$f" = "$pattern" ] && skip=1 ;; esac
  done
  [ "$skip" = 1 ] || echo "$f"
done)
if dotnet fantomas --check $fs_files >/tmp/snn-fantomas.log 2>&1; then
  echo "format fantomas: passed"
else
  echo "format fantomas: failed (run: dotnet fantomas <file>)"; grep -i "needs formatting\|error" /tmp/snn-fantomas.log | head -20; status=1
fi
for proj in Snn.Core/Snn.Core.csproj bench/Snn.Bench/Snn.Bench.csproj; do
  if dotnet format "$proj" --verify-no-changes >/tmp/snn-dotnet-format.log 2>&1; then
    echo "format dotnet-format $proj: passed"
  else
    echo "format dotnet-format $proj: failed (run: dotnet format $proj)"; head -20 /tmp/snn-dotnet-format.log; status=1
  fi
done
exit $status
