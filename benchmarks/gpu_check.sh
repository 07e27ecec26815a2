#!/usr/bin/env bash
# The GPU check: every GPU claim of minisegnet, tested and timed in one prepared run.
#
#   bash benchmarks/gpu_check.sh [--dry-run] [OUTDIR]
#
# Runs from a checkout (no install: it puts the checkout first on PYTHONPATH) on whatever CuPy
# imports. The steps, in order, each under its own time limit, each step's output teed to
# OUTDIR/<step>.log; a step that fails or times out does not stop the later ones:
#
#   device     the machine, the GPU, CuPy / CUDA / driver versions, nvidia-smi, one timed matmul
#   tests      python -m pytest -m gpu                              (every gpu-marked test; one line
#              per test, short tracebacks, stops after 10 failures: one run shows more than one)
#   spatial    benchmarks/bench_spatial.py --device gpu            (conv, conv_T, pool, unpool)
#   unet_step  benchmarks/bench_unet_step.py --preset gpu --device gpu
#              (batch 16, 3x128x128, depth 4, width 32; PyTorch CUDA alongside if torch sees a GPU)
#   train      python -m minisegnet train --device gpu ...         (time to val mIoU >= 0.9)
#   summary    OUTDIR/summary.md and OUTDIR/summary.json: the device, CuPy / CUDA versions, and
#              each step's status (pass / fail / timeout), duration and key figures
#
# --dry-run: the same steps on the CPU, with tests/fake_cupy.py standing in for CuPy (through
# benchmarks/fake_gpu/sitecustomize.py and MINISEGNET_FAKE_CUPY=1, read only by this harness)
# and tiny sizes; it finishes in well under a minute and writes the same summary
# (tests/test_gpu_check.py runs it in the test suite).
#
# The real run is sized for one call on a GPU machine: the step limits below add up to 435 s
# (under 8 minutes even if every step also used its 5 s kill grace), typically much less.
# Exit status: 0 when every step passed, 1 otherwise.
# See docs/gpu.md ("The GPU check").

set -u -o pipefail

usage() { echo "usage: bash benchmarks/gpu_check.sh [--dry-run] [OUTDIR]" >&2; exit 2; }

DRY=0
OUT=""
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY=1 ;;
        -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "gpu_check.sh: unknown option $arg" >&2; usage ;;
        *) [ -z "$OUT" ] || usage; OUT="$arg" ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-gpu-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT" || exit 2
OUT="$(cd "$OUT" && pwd)"
rm -f "$OUT"/summary.md "$OUT"/summary.json   # never report a previous run's summary
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"   # scratch: the training run's folder
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT" || exit 2

PY="${PYTHON:-$(command -v python || command -v python3)}"   # PYTHON=... picks another interpreter
[ -n "$PY" ] || { echo "gpu_check.sh: no python or python3 on PATH (set PYTHON=...)" >&2; exit 2; }
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=Agg HYPOTHESIS_PROFILE=ci PYTHONUNBUFFERED=1
export CUPY_TF32="${CUPY_TF32:-0}"   # CuPy's default (full float32), stated: the tests' tolerances assume it
if [ "$DRY" = 1 ]; then
    export MINISEGNET_FAKE_CUPY=1
    export PYTHONPATH="$ROOT/benchmarks/fake_gpu:$PYTHONPATH"
fi

# each step: name, time limit (s), command. Dry run: tiny sizes, no PyTorch.
TRAIN_OUT="$WORK/train"
if [ "$DRY" = 1 ]; then
    # generous guards, not budgets: a dry run takes ~15 s of CPU, but CI machines can be busy
    T_DEVICE=60 T_TESTS=300 T_SPATIAL=120 T_UNET=120 T_TRAIN=120
    SPATIAL_ARGS=(--quick --repeats 2 --no-torch)
    UNET_ARGS=(--batch 2 --size 16 --depth 2 --width 4 --repeats 2 --warmup 1 --no-torch)
    TRAIN_ARGS=(--n-train 32 --n-val 16 --n-test 0 --epochs 2 --batch-size 16 --size 16 --width 4
                --depth 2)
else
    # with the summary's 30 s: 435 s at most; 465 s (7.75 min) if every step also used its 5 s grace
    T_DEVICE=45 T_TESTS=140 T_SPATIAL=60 T_UNET=60 T_TRAIN=100
    SPATIAL_ARGS=()
    UNET_ARGS=()
    # the issue's target: val mIoU >= 0.9 in under 30 s of training (docs/gpu.md: the command)
    # batch 32 for 30 epochs: on the CPU 20 epochs only just got there (0.904 at epoch 19), so
    # 30 leave a margin; the summary reports when 0.9 was first reached, not the whole run
    TRAIN_ARGS=(--batch-size 32 --epochs 30 --n-test 0)
fi
TRAIN_CMD=("$PY" -m minisegnet train --device gpu "${TRAIN_ARGS[@]}" --no-plots --quiet
           --out "$TRAIN_OUT")

STEPS="$WORK/steps.tsv"
: > "$STEPS"
FAILED=0

run_step() {  # run_step NAME LIMIT CMD...: runs CMD under `timeout`, tees it to OUT/NAME.log
    local name="$1" limit="$2"
    shift 2
    local log="$OUT/$name.log" start end rc status
    echo "== $name (limit ${limit} s): $*"
    start=$(date +%s.%N)
    # SIGINT first: pytest still prints which tests failed, Python scripts where they hung
    { echo "\$ $*"; timeout --signal=INT --kill-after=5 "$limit" "$@" 2>&1; } | tee "$log"
    rc=${PIPESTATUS[0]}
    end=$(date +%s.%N)
    case "$rc" in
        0) status=pass ;;
        124|137) status=timeout ;;
        *) status=fail ;;
    esac
    [ "$status" = pass ] || FAILED=1
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" \
        "$(awk "BEGIN {printf \"%.1f\", $end - $start}")" "$limit" "$*" >> "$STEPS"
    echo "== $name: $status (exit $rc)"
}

run_step device "$T_DEVICE" "$PY" benchmarks/gpu_check_summary.py --probe
run_step tests "$T_TESTS" "$PY" -m pytest -m gpu -v --maxfail=10 --tb=short -rfEs \
    -p no:cacheprovider
run_step spatial "$T_SPATIAL" "$PY" benchmarks/bench_spatial.py --device gpu --rounds 1 \
    ${SPATIAL_ARGS[@]+"${SPATIAL_ARGS[@]}"}
run_step unet_step "$T_UNET" "$PY" benchmarks/bench_unet_step.py --preset gpu --device gpu --rounds 1 \
    ${UNET_ARGS[@]+"${UNET_ARGS[@]}"}
run_step train "$T_TRAIN" "${TRAIN_CMD[@]}"
for f in results.json metrics.csv; do   # the run's figures, kept in the log (its folder is scratch)
    [ -f "$TRAIN_OUT/$f" ] && { echo "--- $f"; cat "$TRAIN_OUT/$f"; } >> "$OUT/train.log"
done

MODE=real
[ "$DRY" = 1 ] && MODE=dry-run
timeout --kill-after=5 30 "$PY" benchmarks/gpu_check_summary.py --mode "$MODE" --steps "$STEPS" \
    --train-dir "$TRAIN_OUT" --out "$OUT"
rc=$?
if [ ! -f "$OUT/summary.md" ]; then
    echo "gpu_check.sh: the summary step failed (exit $rc); the logs are in $OUT" >&2
    exit 1
fi
echo "== summary: $OUT/summary.md"
cat "$OUT/summary.md"
[ "$rc" = 0 ] && [ "$FAILED" = 0 ]
