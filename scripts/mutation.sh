#!/usr/bin/env bash
# Mutation testing of the domain core with cosmic-ray; run by hand, never in CI (it takes hours).
#
#   scripts/mutation.sh                         # every module of tui/core, the core unit tests
#   scripts/mutation.sh tui/core/budget.py      # one module (or several)
#   TESTS="tests/test_rules.py" scripts/mutation.sh tui/core/rules.py
#
# Each mutant (an operator swapped, a constant changed, a condition negated...) is applied to a
# throwaway copy of the tree and the tests are run against it: a mutant the tests still pass is
# "alive", a behaviour no test checks. Prints cosmic-ray's report and the score (killed / all);
# read the alive ones (the report lists them) and either add a test or judge the mutant
# equivalent (it changes no behaviour). Needs `pip install -e '.[mutation]'`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv/bin"
[ -x "$venv/cosmic-ray" ] || { echo "mutation: pip install -e '.[mutation]' first" >&2; exit 2; }
modules=("$@")
[ "${#modules[@]}" -gt 0 ] || modules=("tui/core")
# The core's own tests, in process and quick; the CLI, board and multi-process tests add hours, not kills.
TESTS="${TESTS:-tests/test_core_edges.py tests/test_rules.py tests/test_budget.py tests/test_stats.py \
tests/test_export.py tests/test_markdown_roundtrip.py tests/test_promise.py tests/test_satisfied.py \
tests/test_report.py tests/test_playbook.py tests/test_schema.py tests/test_text.py tests/test_store.py \
tests/test_intake.py tests/test_messages.py tests/test_tone.py tests/test_watch.py}"

work="$(mktemp -d "${TMPDIR:-/tmp}/mend-mutation.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# A copy of the committed tree plus local changes: cosmic-ray edits files in place.
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work")
cd "$work"
for module in "${modules[@]}"; do
  name="$(echo "$module" | tr '/.' '__')"
  cat > "$name.toml" <<CONF
[cosmic-ray]
module-path = "$module"
timeout = 300.0
excluded-modules = []
# -x: the first failing test kills the mutant; one process, so PYTHONPATH puts this copy first.
test-command = "env PYTHONPATH=$work $venv/python -m pytest -x -q -p no:cacheprovider -n 0 $TESTS"

[cosmic-ray.distributor]
name = "local"
CONF
  "$venv/cosmic-ray" init "$name.toml" "$name.sqlite"
  "$venv/cosmic-ray" baseline "$name.toml"
  "$venv/cosmic-ray" exec "$name.toml" "$name.sqlite"
  "$venv/cr-report" "$name.sqlite" --show-pending | tee "$root/mutation-$name.txt" | tail -n 3
done
echo "mutation: reports in $root/mutation-*.txt"
