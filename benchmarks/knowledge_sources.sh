#!/usr/bin/env bash
# Knowledge sources side by side for one task and seed: a store of LLM
# generations, a transfer set of real unlabelled text, and half of each,
# at about equal size, each with the tiny transformer and the BiLSTM student
# (each with and without retrieval: kd_student and retrikt_student).
#
#   benchmarks/knowledge_sources.sh rte 0      # then: .venv/bin/python benchmarks/method.py runs/method/rte-s0-*
#
# The teacher is trained once per seed and shared by copying the run
# directory (its stage keys match, so every copy skips it); the mixed store
# takes 1,000 entries from each finished run through the `knowledge` source,
# so it costs no generation or labelling. One torch thread per run: two seeds
# can run side by side on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ]; then
  echo "usage: $0 TASK SEED   (needs examples/configs/TASK-{retrikt,transfer,mixed}.toml)" >&2
  exit 2
fi
task=$1 seed=$2
for kind in retrikt transfer mixed; do
  [ -f "examples/configs/$task-$kind.toml" ] || { echo "no examples/configs/$task-$kind.toml" >&2; exit 2; }
done
per_label=${GEN_PER_LABEL:-1200}    # RTE keeps ~83% of what it writes: ~2,000 entries
runs=${RUNS:-runs/method}
bin=.venv/bin/retrikt
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
base="$runs/$task-s$seed"
gen=(examples/configs/$task-retrikt.toml --set run.seed=$seed --set extract.n_per_label=$per_label
     --set student.length_buckets=16)
transfer=(examples/configs/$task-transfer.toml --set run.seed=$seed)
mixed=(examples/configs/$task-mixed.toml --set run.seed=$seed
       --set generator.path=$base-gen2k --set second_source.path=$base-corpus2k)

run() {  # run NAME CONFIG ARGS...: one run directory, logged beside it
  local name=$1; shift
  echo "=== $name start $(date +%T)"
  $bin run "$@" --data-dir "${DATA_DIR:-../shared/data}" --run-dir "$runs/$name" \
    > "$runs/$name.log" 2>&1
  echo "=== $name end $(date +%T)"
}
copy() {  # copy FROM TO: start TO from FROM's finished stages
  [ -d "$runs/$2" ] || cp -r "$runs/$1" "$runs/$2"
}

mkdir -p "$runs"
run "$task-s$seed-gen2k" "${gen[@]}" --until reinforce     # teacher and generator tuning
copy "$task-s$seed-gen2k" "$task-s$seed-corpus2k"
run "$task-s$seed-corpus2k" "${transfer[@]}"
run "$task-s$seed-gen2k" "${gen[@]}"
copy "$task-s$seed-gen2k" "$task-s$seed-mixed2k"
run "$task-s$seed-mixed2k" "${mixed[@]}"
for v in corpus2k gen2k mixed2k; do
  copy "$task-s$seed-$v" "$task-s$seed-$v-bilstm"
done
run "$task-s$seed-corpus2k-bilstm" "${transfer[@]}" --set student.plugin=bilstm
run "$task-s$seed-gen2k-bilstm" "${gen[@]}" --set student.plugin=bilstm
run "$task-s$seed-mixed2k-bilstm" "${mixed[@]}" --set student.plugin=bilstm
