#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: install the CuPy extra matching the driver's
# CUDA, run the cupy-marked test suite on the real device, run the three benchmarks with
# --device gpu against PyTorch CUDA, and write everything as JSON under benchmarks/results/.
#
#   bash benchmarks/gpu_check.sh               # the whole check (budget: 8 minutes)
#   bash benchmarks/gpu_check.sh --dry-run     # print the steps, run nothing
#   bash benchmarks/gpu_check.sh --no-install  # use the packages already installed
#   bash benchmarks/gpu_check.sh --quick       # benchmarks in --quick mode (a smoke run)
#
# Environment: PYTHON (default python), GPU_CHECK_BUDGET (seconds for the tests and the
# benchmarks together, default 480; the first run includes CuPy's kernel compilation, which
# later runs read from ~/.cupy/kernel_cache), TORCH_VERSION (default 2.13.0), TORCH_INDEX_URL
# (where to get a CUDA build of PyTorch when the installed one has none; default PyPI, whose
# Linux wheels are CUDA builds).
set -euo pipefail
cd "$(dirname "$0")/.."

dry=0 install=1 quick=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry=1 ;;
        --no-install) install=0 ;;
        --quick) quick=1 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done

py=${PYTHON:-python}
budget=${GPU_CHECK_BUDGET:-480}
stamp=$(date +%Y-%m-%d-%H%M)
results=benchmarks/results
prefix="$results/gpu-$stamp"
steps=()

run() {  # print a step; run it unless --dry-run
    echo "+ $*"
    if [ "$dry" -eq 0 ]; then "$@"; fi
}

left() {  # seconds of the budget still left (at least 30, so each step can start)
    local rest=$((budget - SECONDS + started))
    echo $((rest > 30 ? rest : 30))
}

timed() {  # timed NAME CMD...: run CMD within the budget; record NAME=ok/failed/timed out
    local name=$1 status=0
    shift
    echo "+ timeout $(left) $*"
    if [ "$dry" -eq 1 ]; then return 0; fi
    timeout "$(left)" "$@" || status=$?
    case $status in
        0) steps+=("$name=ok") ;;
        124) steps+=("$name=timed out"); echo "gpu_check: $name ran out of the budget" >&2 ;;
        *) steps+=("$name=failed (exit $status)") ;;
    esac
}

# ---------------------------------------------------------------- 1. the driver's CUDA
if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu_check: nvidia-smi not found: no NVIDIA driver on this machine. Without a GPU," \
         "run the GPU code paths on the CuPy-rules emulator instead:" \
         "MINIALEX_BACKEND=cupy-emulator python -m pytest -m cupy" >&2
    exit 2
fi
cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)
case "${cuda%%.*}" in
    12) extra=cuda12 ;;
    13) extra=cuda13 ;;
    *) echo "gpu_check: nvidia-smi reports CUDA '${cuda:-?}'; CuPy 14 wheels exist for" \
            "CUDA 12 and 13 (update the driver)" >&2; exit 2 ;;
esac
gpu=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
      | head -n 1)
echo "GPU: $gpu; driver CUDA $cuda -> pip extra [$extra]"

# ---------------------------------------------------------------- 2. install
if [ "$install" -eq 1 ]; then
    run "$py" -m pip install -q -e ".[dev,$extra]"
    if [ "$dry" -eq 1 ] || ! "$py" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" \
            >/dev/null 2>&1; then
        run "$py" -m pip install -q --force-reinstall "torch==${TORCH_VERSION:-2.13.0}" \
            ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
    fi
fi
run "$py" -c "from minialex import backend; backend.use('cupy'); cp = backend.xp(); \
print('CuPy', cp.__version__, 'runs on', cp.cuda.runtime.getDeviceProperties(0)['name'].decode())"
run mkdir -p "$results"

# ---------------------------------------------------------------- 3. tests on the device
started=$SECONDS
echo "+ export MINIALEX_BACKEND=cupy MPLBACKEND=Agg"
export MINIALEX_BACKEND=cupy MPLBACKEND=Agg
timed tests "$py" -m pytest -m cupy -q -p no:cacheprovider --junitxml="$prefix-tests.xml"

# ---------------------------------------------------------------- 4. benchmarks vs PyTorch CUDA
bench_opts=(--device gpu)
if [ "$quick" -eq 1 ]; then bench_opts+=(--quick); fi
timed conv_layers "$py" benchmarks/conv_layers.py "${bench_opts[@]}" --json "$prefix-conv.json"
timed layers "$py" benchmarks/layers.py "${bench_opts[@]}" --json "$prefix-layers.json"
timed network "$py" benchmarks/network.py "${bench_opts[@]}" --json "$prefix-network.json"

# ---------------------------------------------------------------- 5. one report
step_args=()
for s in ${steps[@]+"${steps[@]}"}; do step_args+=(--step "$s"); done
run "$py" benchmarks/gpu_report.py --out "$prefix-check.json" --pytest-xml "$prefix-tests.xml" \
    --bench conv_layers="$prefix-conv.json" --bench layers="$prefix-layers.json" \
    --bench network="$prefix-network.json" --gpu "$gpu" --cuda "$cuda" --extra "$extra" \
    --seconds $((SECONDS - started)) --budget "$budget" ${step_args[@]+"${step_args[@]}"}
for s in ${steps[@]+"${steps[@]}"}; do
    case "$s" in *=ok) ;; *) exit 1 ;; esac
done
