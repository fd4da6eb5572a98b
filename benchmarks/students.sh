#!/usr/bin/env bash
# Students along the size-quality frontier for one task and seed, on the same
# transfer-set knowledge (the task's train split, labels dropped, labelled by
# the tuned SmolLM2 teacher), each with and without retrieval, and SetFit on
# the same k-shot split:
#   compact    all-MiniLM-L6-v2, whole (22.7M)       examples/configs/TASK-compact.toml
#   compact2l  all-MiniLM-L6-v2, first 2 layers      ... --set student.layers=2
#   extreme    tiny transformer, ~2M                 examples/configs/TASK-extreme.toml
#   bilstm     BiLSTM, ~2M                           ... --set student.plugin=bilstm
#
#   for s in 0 1 2; do benchmarks/students.sh sst2 $s; done
#   .venv/bin/python benchmarks/frontier.py runs/students/sst2-s*   # the table and plot
#
# The teacher and the knowledge are computed once per seed and shared by
# copying the run directory (their stage keys match, so every copy skips
# them); SetFit is trained in the first run only.
#
# With KNOWLEDGE=FILE and NAME=NAME set, the same four students learn from
# every entry of FILE instead (a knowledge.jsonl labelled by this seed's
# teacher, such as benchmarks/knowledge_file.py writes), in runs named
# TASK-sSEED-NAME-VARIANT copied from the seed's finished compact run:
#   KNOWLEDGE=runs/students/sst2-s0-knowledge8k.jsonl NAME=t8k benchmarks/students.sh sst2 0
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ]; then
  echo "usage: $0 TASK SEED   (needs examples/configs/TASK-{compact,extreme}.toml)" >&2
  exit 2
fi
task=$1 seed=$2
runs=${RUNS:-runs/students}
bin=.venv/bin/retrikt
base="$runs/$task-s$seed"
no_setfit=(--set 'evaluate.methods=["teacher", "kshot_student", "kd_student", "retrikt_student"]')
mkdir -p "$runs"

run() {  # run NAME CONFIG ARGS...: one run directory, logged beside it
  local name=$1; shift
  echo "=== $name start $(date +%T)"
  $bin run "$@" --data-dir "${DATA_DIR:-../shared/data}" --run-dir "$runs/$name" --set run.seed=$seed \
    > "$runs/$name.log" 2>&1
  echo "=== $name end $(date +%T)"
}
copy() {  # copy FROM TO: a finished run's stages, reused by the next run
  rm -rf "$runs/$2" && cp -r "$runs/$1" "$runs/$2"
}

if [ -n "${KNOWLEDGE:-}" ]; then
  : "${NAME:?set NAME beside KNOWLEDGE: the runs are named TASK-sSEED-NAME-VARIANT}"
  prefix="$task-s$seed-$NAME"
  knowledge=(--set generator.plugin=knowledge --set "generator.path=$KNOWLEDGE"
             --set "extract.n_total=$(grep -c . "$KNOWLEDGE")")
  copy "$task-s$seed-compact" "$prefix-compact"
  run "$prefix-compact" "examples/configs/$task-compact.toml" "${knowledge[@]}" "${no_setfit[@]}"
else
  prefix="$task-s$seed"
  knowledge=()
  run "$prefix-compact" "examples/configs/$task-compact.toml"
fi
copy "$prefix-compact" "$prefix-compact2l"
run "$prefix-compact2l" "examples/configs/$task-compact.toml" --set student.layers=2 \
  "${knowledge[@]}" "${no_setfit[@]}"
copy "$prefix-compact" "$prefix-extreme"
run "$prefix-extreme" "examples/configs/$task-extreme.toml" "${knowledge[@]}" "${no_setfit[@]}"
copy "$prefix-extreme" "$prefix-bilstm"
run "$prefix-bilstm" "examples/configs/$task-extreme.toml" --set student.plugin=bilstm \
  "${knowledge[@]}" "${no_setfit[@]}"
