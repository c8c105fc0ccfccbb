#!/usr/bin/env bash
# Mutation testing of the domain core with cosmic-ray; run by hand, never in CI.
#
#   scripts/mutation.sh                          # a seeded random sample of 150 mutants over all of tui/core
#   SAMPLE=400 SEED=7 scripts/mutation.sh        # another sample (a new seed: figures not fitted to the tests)
#   SAMPLE=0 scripts/mutation.sh tui/core/budget.py   # every mutant of one module (or several)
#   RECHECK=1 SEED=7 scripts/mutation.sh         # that seed's kept sample again, its survivors against today's tests
#
# Each mutant (an operator swapped, a constant changed, a condition negated...) is applied to a throwaway
# copy of the tree and the tests covering its module are run against it (the map below; the quick tests
# only, see scripts/mutation_pytest.py; -x, so the first failure kills it; one process under nice -n 19;
# TIMEOUT seconds a mutant). A mutant the tests pass is "alive", a behaviour no test checks, unless it is
# listed in scripts/mutation_equivalent.txt as changing no behaviour. Read the alive ones in the report:
# add a test, or judge the mutant equivalent there and say why. All of tui/core is about 10,500 mutants,
# days on a 2-core machine, hence the sample; the score has a 95 % interval. Needs
# `pip install -e '.[mutation]'`.
#
# Figures (1 December 2026, a 2-core machine shared with six other jobs: about a minute a mutant):
#   seed 1, the working sample: 30 drawn, 18 run (the server store's baseline timed out under load;
#     now it runs only the PostgreSQL tests, with a longer timeout): 15/18 killed = 83 % (95 % 61-94 %);
#     tests written for its 3 survivors: 18/18 (RECHECK=1 SEED=1).
#   seed 2, held out (no test written from it until it was measured again): 50 drawn, a random 40
#     run for time: 30/40 killed = 75 % (95 % 60-86 %), no survivor equivalent;
#     with the tests written from seed 1 and from coverage (RECHECK=1 SEED=2): still 30/40, none of its
#     10 survivors killed: those tests went to other code, so 75 % is the honest estimate of the suite;
#     with tests then written for its survivors (fitted, not a fresh figure): 40/43 = 93 % (95 % 81-98 %;
#     43: three run before the cut to 40), and the last 3 killed by tests checked by hand against them.
#   seed 3, fresh, with the tests of both (but the last four): 20 drawn, 4 equivalent,
#     12/16 killed = 75 % (95 % 51-90 %). Alive: store/base.py:82 (since tested), tinydb.py:737 (since
#     tested), :749 and :753 (the counter repair at a shard's last number, and the value it writes
#     before the create overwrites it).
#   So about 75 % of non-equivalent mutants die on a fresh sample, short of the 90 % aimed at: each
#   sample's survivors were killed, but the next sample finds new ones, most in the TinyDB store.
#   Seeds 1 and 2 drew in an order that changed at each init, since fixed: the same seed now draws
#   the same mutants (seed 3 is reproducible), but not those of seeds 1 and 2.
#   The core outside the store (every module but store/*, files, schema, watch; 1 December, issue #17):
#     survivors hunted with seed 501 (12 mutants a module against one to four of its test files, a
#     quick way to find them) and by reading for boundaries; tests in tests/test_mut_core_*.py, each
#     checked against the hand-made or hunted mutants it was written for. Then fresh, seed 9017
#     (drawn after those tests, but before the tone ones), SAMPLE=16 over these modules only:
#     16 drawn, 16 run, 0 equivalent, 13/16 killed = 81 % (95 % 57-93 %): the 90 % aimed at is not
#     shown (the interval holds it, and 75 %). Alive: settings.py:266 (the folder's mode; since tested),
#     text.py:29 (since judged equivalent: no Cc character is 0x20), tone.py:175 (_Scan not frozen:
#     nothing assigns to or hashes one, but the text also matches tone's other frozen dataclasses, so
#     it is left alive, not listed). With the text.py judgement 13/15 = 87 % (95 % 62-96 %).
#   The stores and their neighbours alone (store/tinydb.py, store/postgres.py, store/base.py, files.py,
#   schema.py, watch.py: 3,224 of the mutants; tests for them in tests/test_mut_store_*.py, run first):
#     seed 21, drawn before those tests: 16 drawn, 16 run, 14/16 = 87.5 % (95 % 64-97 %); alive
#       tinydb.py:529 (an `is` that holds below shard 257) and :803 (an upgrade's counter), both since tested.
#     seed 22, drawn with the first of them: 24 drawn, 24 run, 1 equivalent, 20/23 = 87.0 % (95 % 68-96 %);
#       alive tinydb.py:327 (how many open-set scans are kept), schema.py:497, :605, all since tested.
#     seed 41, fresh (drawn once they were written, measured on commit a3a0b23): 14 drawn, 14 run,
#       1 equivalent, 12/13 = 92.3 % (95 % 67-99 %); alive tinydb.py:734 (an open.json lost under an open
#       store read as a newer one's), since tested. The point estimate passes 90 %, the interval is wide.
#   A surviving server-store mutant costs about 4 minutes (a server per mutant); its runs skip the store
#   contract's data-folder cases, which never reach its code.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv/bin"
[ -x "$venv/cosmic-ray" ] || { echo "mutation: pip install -e '.[mutation]' first" >&2; exit 2; }
SAMPLE="${SAMPLE:-150}" SEED="${SEED:-1}" TIMEOUT="${TIMEOUT:-120}"
modules=("$@")
if [ "${#modules[@]}" -eq 0 ]; then
  mapfile -t modules < <(cd "$root" && git ls-files 'tui/core/*.py' 'tui/core/**/*.py' | grep -v '__init__.py$')
fi

# The tests that exercise each module, the most direct first (-x stops at the first failure).
tests_for() {
  case "$1" in
    tui/core/budget.py) echo test_mut_core_budget test_budget test_late_by test_promise test_rules test_core_edges ;;
    tui/core/rules.py) echo test_rules test_rules_refusals test_apology_skip test_core_edges test_budget test_report test_satisfied test_bounded ;;
    tui/core/actions.py) echo test_rules ;;
    tui/core/promise.py) echo test_promise test_rules ;;
    tui/core/satisfied.py) echo test_satisfied test_rules ;;
    tui/core/model.py) echo test_mut_core_model test_timeline_lines test_event_records test_rules test_report test_core_edges test_store test_schema_decoder test_budget ;;
    tui/core/stats.py) echo test_mut_core_stats test_kept_promises test_stats test_stats_cache test_apology_skip ;;
    tui/core/export.py) echo test_mut_core_export test_export_pieces test_export test_markdown_roundtrip test_core_edges test_promise test_import ;;
    tui/core/schema.py) echo test_mut_store_schema test_schema_decoder test_schema test_store ;;
    tui/core/playbook.py) echo test_mut_core_playbook test_playbook test_playbook_problems test_satisfied test_messages ;;
    tui/core/messages.py) echo test_message_drafts test_messages ;;
    tui/core/tone.py) echo test_mut_core_tone test_tone test_messages ;;
    tui/core/settings.py) echo test_mut_core_settings test_settings_values test_settings ;;
    tui/core/intake.py) echo test_alert_refusals test_intake ;;
    tui/core/hooks.py) echo test_watch test_late_by test_intake ;;
    tui/core/watch.py) echo test_mut_store_watch test_watch test_late_by test_intake ;;
    tui/core/text.py) echo test_durations test_text test_markdown_roundtrip test_faults_text test_export ;;
    tui/core/files.py) echo test_safe_files test_core_edges test_faults_files test_store test_faults_storage ;;
    tui/core/clock.py) echo test_core_edges test_faults_clock test_rules ;;
    tui/core/errors.py) echo test_exit_codes ;;
    tui/core/service.py) echo test_mut_core_service test_playbook_versions test_linked_incidents test_report test_export test_stats_cache test_faults_storage test_faults_files test_core_edges test_rules test_intake ;;
    tui/core/store/postgres.py) echo test_mut_store_postgres test_store_contract test_store_server ;;
    tui/core/store/*) echo test_mut_store_tinydb test_mut_store_base test_store test_whole_open_set test_data_folder_reads test_counter_and_size_limits test_store_contract test_faults_data test_faults_storage ;;
    *) echo "mutation: no tests mapped for $1" >&2; exit 2 ;;
  esac
}

work="$(mktemp -d "${TMPDIR:-/tmp}/mend-mutation.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# A copy of the committed tree plus local changes: cosmic-ray edits files in place.
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work")
cd "$work"
kept="$root/mutation-sessions/seed-$SEED"
dbs=()
for module in "${modules[@]}"; do
  name="$(echo "$module" | tr '/.' '__')"
  tests="$(tests_for "$module" | sed -E 's#(test_[a-z_]+)#tests/\1.py#g')"
  # The server store's mutants need the store contract run against PostgreSQL too (a server started
  # for each mutant: slow on a busy machine, hence the longer timeout).
  postgres="" timeout="$TIMEOUT"
  [ "$module" != tui/core/store/postgres.py ] || { postgres="MUTATION_POSTGRES=1"; timeout=$((TIMEOUT * 5)); }
  cat > "$name.toml" <<CONF
[cosmic-ray]
module-path = "$module"
timeout = $timeout
excluded-modules = []
test-command = "env $postgres PYTHONPATH=$work:$work/scripts nice -n 19 $venv/python -m pytest -x -q -p no:cacheprovider -n 0 -p mutation_pytest $tests"

[cosmic-ray.distributor]
name = "local"
CONF
  if [ -n "${RECHECK:-}" ]; then
    # The kept sessions of this seed again, with the tests as they are now: the killed stay killed, the rest run again.
    [ -f "$kept/$name.sqlite" ] || continue
    cp "$kept/$name.sqlite" .
    "$venv/python" -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"DELETE FROM work_results WHERE test_outcome = 'SURVIVED'\"); c.commit()" "$name.sqlite"
  else
    "$venv/cosmic-ray" init "$name.toml" "$name.sqlite"
  fi
  dbs+=("$name.sqlite")
done
[ "$SAMPLE" -eq 0 ] || [ -n "${RECHECK:-}" ] || "$venv/python" "$root/scripts/mutation_sample.py" sample "$SAMPLE" "$SEED" "${dbs[@]}"
for db in "${dbs[@]}"; do
  name="${db%.sqlite}"
  # Only modules with mutants still to run (a recheck leaves the killed ones alone).
  "$venv/python" -c "import sqlite3, sys; sys.exit(not sqlite3.connect(sys.argv[1]).execute(
    'SELECT 1 FROM work_items w LEFT JOIN work_results r ON r.job_id = w.job_id WHERE r.job_id IS NULL').fetchone())" \
    "$db" || continue
  # The unmutated tree must pass, or every mutant would look killed; if not, its mutants stay "not run".
  "$venv/cosmic-ray" baseline "$name.toml" || { echo "mutation: the tests fail unmutated for $name, skipped" >&2; continue; }
  "$venv/cosmic-ray" exec "$name.toml" "$db"
  mkdir -p "$kept" && cp "$db" "$kept/"
done
"$venv/python" "$root/scripts/mutation_sample.py" report "$root/scripts/mutation_equivalent.txt" "${dbs[@]}" \
  | tee "$root/mutation-report-seed-$SEED.txt"
for db in "${dbs[@]}"; do "$venv/cr-report" "$db" --show-diff --surviving-only; done > "$root/mutation-diffs-seed-$SEED.txt"
echo "mutation: report in mutation-report-seed-$SEED.txt, the survivors' diffs in mutation-diffs-seed-$SEED.txt, sessions in $kept"
