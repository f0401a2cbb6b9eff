#!/usr/bin/env bash
# Sets up what is missing, then runs every test suite, the formatting checks and the notebooks.
# `./test.sh --fast` skips the slow tests, the formatting checks and the notebooks.
# The last line is the total: `N passed, N failed`; the lines before it name every failed test or check.
set -uo pipefail
cd "$(dirname "$0")"
scripts/setup.sh || exit 1
fast=0
for a in "$@"; do [ "$a" = "--fast" ] && fast=1; done
passed=0; failed=0; status=0
failures=()
for suite in Snn.Core.Tests Snn.Dsl.Tests Snn.Cli.Tests; do
  log=$(mktemp)
  dotnet "tests/$suite/bin/Release/net10.0/$suite.dll" --colours 0 "$@" 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  # Expecto's summary line: "EXPECTO! N tests run in ... – P passed, I ignored, F failed, E errored."
  line=$(grep -E '[0-9]+ passed, [0-9]+ ignored, [0-9]+ failed, [0-9]+ errored' "$log" | tail -1)
  if [ -z "$line" ]; then status=1; failed=$((failed + 1)); echo "$suite: no Expecto summary"; failures+=("$suite: no Expecto summary (the run crashed or was stopped)"); fi
  # Expecto's failure lines: "[hh:mm:ss ERR] <list>.<test name> failed in 00:00:01.2340000." (or "errored in").
  while IFS= read -r name; do failures+=("$suite: $name"); done < <(
    sed -E 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" | grep -oE 'ERR\] .+ (failed|errored) in [0-9:.]+' | sed -E 's/^ERR\] //; s/ (failed|errored) in [0-9:.]+$/ (\1)/')
  p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed, ([0-9]+) errored.*/\1+\2/' <<<"$line")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  rm -f "$log"
done
# Checks that print one "<name>: passed" or "<name>: failed" line each.
checks=()
[ "$fast" = 1 ] || checks+=(scripts/check-format.sh)
[ "$fast" = 1 ] || [ ! -x Notebooks/run-all.sh ] || checks+=(Notebooks/run-all.sh)
for check in "${checks[@]}"; do
  log=$(mktemp)
  "$check" 2>&1 | tee "$log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  passed=$((passed + $(grep -c -E ': passed( |$)' "$log")))
  while IFS= read -r name; do failures+=("$name"); done < <(grep -oE '^.+: failed( |$)' "$log" | sed -E 's/: failed ?$//')
  failed=$((failed + $(grep -c -E ': failed( |$)' "$log")))
  rm -f "$log"
done
if [ "${#failures[@]}" -gt 0 ]; then
  echo "Failed:"
  for f in "${failures[@]}"; do echo "  $f"; done
fi
echo "$passed passed, $failed failed"
exit $status
