#!/usr/bin/env bash
# The GPU measurement in one command, on a GPU machine without network, from
# the repository root with the .gpu-bench/ that benches/gpu/stage.sh made:
#
#   benches/gpu/run.sh [--allow-software] [--rows N] [--features D] [--epochs E]
#       [--batch-sizes LIST] [--models LIST] [--devices LIST] [--kernels LIST]
#       [--out DIR] [--unpack auto|root|local|local-all|none] [--keep-data]
#
# 1. Makes the Vulkan loader and the libraries NVIDIA's Vulkan driver needs
#    available from .gpu-bench/*.deb, only those the machine lacks: unpacked
#    into / (as root, where / is writable; then ldconfig) or into
#    .gpu-bench/root with LD_LIBRARY_PATH.
# 2. Checks which adapter wgpu takes (a tiny `downhill bench --device gpu`,
#    whose JSON names it). If it finds none, or a software one (device_type
#    Cpu), it points VK_DRIVER_FILES and VK_ICD_FILENAMES at NVIDIA's ICD
#    JSON and tries again. A software adapter ends the run (exit 3) unless
#    --allow-software is given: its timings are not GPU numbers.
# 3. Per model: `downhill bench --device cpu,gpu --kernels current,legacy
#    --json --dump-data` (each GPU run once per kernel generation, in the
#    same call), then the PyTorch CUDA peers (torch_peers.py: eager, and a
#    CUDA graph per step for batches up to 4096) on the same bytes (skipped
#    and marked so where PyTorch or CUDA is missing). Both time the same
#    way: data on the device, one warm-up epoch, the median timed epoch.
# 3b. Sparse rows on both devices (`downhill bench --sparse 75`,
#    RCV1-shaped, 1,000,000 rows; batches of 256 and 4096 and the full
#    batch): $OUT/sparse.json.
# 3c. A path of 20 strengths in lockstep against one fit, and its 5-fold
#    cross-validation with the folds side by side and one after another
#    (`downhill bench --path 20 --folds 5`, logistic, 1,000,000 × 64) on
#    both devices: $OUT/path.json.
# 4. Prints the tables per model (throughput with current ÷ legacy and the
#    ratios to PyTorch, the structural figures) and writes every JSON
#    (probe, downhill's, the peers', summary.json, summary.md) into $OUT
#    (default .gpu-bench/out).
#
# Options (and the environment variables that set their defaults):
#   --rows N            DOWNHILL_BENCH_ROWS, default 10000000
#   --features D        DOWNHILL_BENCH_FEATURES, default 64
#   --epochs E          DOWNHILL_BENCH_EPOCHS, default 3 (timed, after one
#                       warm-up epoch)
#   --batch-sizes LIST  DOWNHILL_BENCH_BATCH_SIZES, default 32,256,4096,65536,full
#   --models LIST       DOWNHILL_BENCH_MODELS, default linear,logistic
#   --devices LIST      DOWNHILL_BENCH_DEVICES, default cpu,gpu (gpu required)
#   --kernels LIST      DOWNHILL_BENCH_KERNELS, default current,legacy: the
#                       GPU kernel generations, each run in the same call
#   --out DIR           OUT, default .gpu-bench/out
#   --unpack MODE       DOWNHILL_GPU_UNPACK, default auto (root if possible,
#                       else local); local-all unpacks every package locally
#   --allow-software    DOWNHILL_ALLOW_SOFTWARE=1: go on with a software
#                       adapter (development machines, CI), marked as such
#   --keep-data         keep the dumped data in .gpu-bench/data (GBs)
# Also: PYTHON (default python3), WGPU_BACKEND (default vulkan),
# DOWNHILL_VK_ICD (an ICD JSON to try first), DOWNHILL_BINARY (default
# .gpu-bench/downhill).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
stage=.gpu-bench

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

rows=${DOWNHILL_BENCH_ROWS:-10000000}
features=${DOWNHILL_BENCH_FEATURES:-64}
epochs=${DOWNHILL_BENCH_EPOCHS:-3}
batch_sizes=${DOWNHILL_BENCH_BATCH_SIZES:-32,256,4096,65536,full}
models=${DOWNHILL_BENCH_MODELS:-linear,logistic}
devices=${DOWNHILL_BENCH_DEVICES:-cpu,gpu}
kernels=${DOWNHILL_BENCH_KERNELS:-current,legacy}
out=${OUT:-$stage/out}
unpack=${DOWNHILL_GPU_UNPACK:-auto}
allow_software=${DOWNHILL_ALLOW_SOFTWARE:-0}
keep_data=0
python=${PYTHON:-python3}
bin=${DOWNHILL_BINARY:-$stage/downhill}
command_line="benches/gpu/run.sh${*:+ $*}"

need_value() {
    if [ "$#" -lt 2 ] || [ -z "$2" ]; then
        echo "run.sh: $1 needs a value (see --help)" >&2
        exit 2
    fi
}
while [ "$#" -gt 0 ]; do
    case $1 in
        --rows) need_value "$@"; rows=$2; shift 2 ;;
        --features) need_value "$@"; features=$2; shift 2 ;;
        --epochs) need_value "$@"; epochs=$2; shift 2 ;;
        --batch-sizes) need_value "$@"; batch_sizes=$2; shift 2 ;;
        --models) need_value "$@"; models=$2; shift 2 ;;
        --devices) need_value "$@"; devices=$2; shift 2 ;;
        --kernels) need_value "$@"; kernels=$2; shift 2 ;;
        --out) need_value "$@"; out=$2; shift 2 ;;
        --unpack) need_value "$@"; unpack=$2; shift 2 ;;
        --allow-software) allow_software=1; shift ;;
        --keep-data) keep_data=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

for pair in "rows:$rows" "features:$features" "epochs:$epochs"; do
    case ${pair#*:} in
        ''|*[!0-9]*|0) echo "run.sh: --${pair%%:*} must be a positive integer, not '${pair#*:}'" >&2; exit 2 ;;
    esac
done
case ,$devices, in
    *,gpu,*) ;;
    *) echo "run.sh: --devices must include gpu (got $devices)" >&2; exit 2 ;;
esac
IFS=, read -r -a model_list <<<"$models"
for model in "${model_list[@]}"; do
    case $model in
        linear|logistic) ;;
        *) echo "run.sh: unknown model '$model' in --models (linear, logistic)" >&2; exit 2 ;;
    esac
done
IFS=, read -r -a kernel_list <<<"$kernels"
for generation in "${kernel_list[@]}"; do
    case $generation in
        current|legacy) ;;
        *) echo "run.sh: unknown kernel generation '$generation' in --kernels (current, legacy)" >&2; exit 2 ;;
    esac
done
case $unpack in
    auto|root|local|local-all|none) ;;
    *) echo "run.sh: --unpack must be auto, root, local, local-all or none" >&2; exit 2 ;;
esac
if [ -f "$bin" ] && [ ! -x "$bin" ]; then
    chmod +x "$bin" 2>/dev/null || true  # a copy that lost its mode bits
fi
if [ ! -x "$bin" ]; then
    echo "run.sh: no binary at $bin: run benches/gpu/stage.sh on a development machine first" >&2
    exit 1
fi
if ! command -v "$python" >/dev/null 2>&1; then
    echo "run.sh: $python not found (the probe and the table need Python 3's standard library)" >&2
    exit 1
fi
peers_script=$here/torch_peers.py
[ -f "$peers_script" ] || peers_script=$stage/torch_peers.py
summarize_script=$here/summarize.py
[ -f "$summarize_script" ] || summarize_script=$stage/summarize.py

section() {
    printf '\n== %s\n' "$*"
}

if [ "$bin" != "$stage/downhill" ]; then
    echo "note: running $bin, not the staged $stage/downhill"
fi
mkdir -p "$out"
# No file of an earlier run for this run's models.
rm -f "$out"/probe.json "$out"/summary.json "$out"/summary.md
for model in "${model_list[@]}"; do
    rm -f "$out/downhill-$model.json" "$out/torch-$model.json"
done
[ -f "$stage/MANIFEST" ] && { section "staged"; cat "$stage/MANIFEST"; }

# 1. Libraries ----------------------------------------------------------------

ldconfig_bin=$(command -v ldconfig || echo /sbin/ldconfig)
known_sonames=""
refresh_sonames() {
    known_sonames=$("$ldconfig_bin" -p 2>/dev/null | awk 'NR > 1 { print $1 }' || true)
}
# Whether the dynamic linker finds this soname already (its cache, or a
# folder of LD_LIBRARY_PATH).
soname_known() {
    if grep -qxF "$1" <<<"$known_sonames"; then
        return 0
    fi
    local dir dirs
    IFS=: read -r -a dirs <<<"${LD_LIBRARY_PATH:-}"
    for dir in "${dirs[@]}"; do
        if [ -n "$dir" ] && [ -e "$dir/$1" ]; then
            return 0
        fi
    done
    return 1
}

# deb_extract DEB DEST: dpkg-deb where there is one, else Python's tarfile.
deb_extract() {
    if command -v dpkg-deb >/dev/null 2>&1; then
        dpkg-deb -x "$1" "$2"
    else
        "$python" - "$1" "$2" <<'EOF'
import io, sys, tarfile
deb, dest = sys.argv[1:3]
with open(deb, "rb") as f:
    data = f.read()
if data[:8] != b"!<arch>\n":
    sys.exit(f"{deb}: not a Debian package")
pos = 8
while pos + 60 <= len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58])
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
            if hasattr(tarfile, "fully_trusted_filter"):
                tar.extractall(dest, filter="fully_trusted")
            else:
                tar.extractall(dest)
        break
else:
    sys.exit(f"{deb}: no data.tar member")
EOF
    fi
}

# Whether a package unpacked in DIR is needed here: it ships a shared
# library whose soname the linker does not find, or (shipping none) a file
# that is not on the system.
package_needed() {
    local dir=$1 file name found_lib=0
    while IFS= read -r file; do
        name=$(basename "$file")
        if [[ $name =~ ^lib.*\.so\.[0-9]+$ ]]; then
            found_lib=1
            soname_known "$name" || return 0
        fi
    done < <(find "$dir" \( -type f -o -type l \) -name 'lib*.so.*')
    if [ "$found_lib" = 1 ]; then
        return 1
    fi
    while IFS= read -r file; do
        [ -e "/${file#"$dir"/}" ] || return 0
    done < <(find "$dir" -type f)
    return 1
}

unpack_libraries() {
    local debs=("$stage"/*.deb)
    if [ ! -e "${debs[0]}" ]; then
        echo "no packages in $stage/: none unpacked"
        return
    fi
    if [ "$unpack" = none ]; then
        echo "none unpacked (--unpack none)"
        return
    fi
    local mode=$unpack
    if [ "$mode" = auto ]; then
        if [ "$(id -u)" = 0 ] && [ -w / ] && [ -w /usr/lib ]; then mode=root; else mode=local; fi
    fi
    refresh_sonames
    local scratch=$stage/unpack prefix=$stage/root deb name wanted=()
    rm -rf "$scratch" "$prefix"
    for deb in "${debs[@]}"; do
        name=$(basename "$deb" .deb)
        mkdir -p "$scratch/$name"
        deb_extract "$deb" "$scratch/$name"
        if [ "$mode" = local-all ] || package_needed "$scratch/$name"; then
            wanted+=("$deb")
        else
            echo "have already: ${name%%_*}"
        fi
    done
    rm -rf "$scratch"
    if [ "${#wanted[@]}" = 0 ]; then
        echo "nothing to unpack: the system has every library staged"
        return
    fi
    for deb in "${wanted[@]}"; do
        if [ "$mode" = root ]; then
            echo "unpacking into /: $(basename "$deb")"
            deb_extract "$deb" /
        else
            echo "unpacking into $prefix: $(basename "$deb")"
            mkdir -p "$prefix"
            deb_extract "$deb" "$prefix"
        fi
    done
    if [ "$mode" = root ]; then
        "$ldconfig_bin"
    else
        local dirs
        dirs=$(find "$(cd "$prefix" && pwd)" -name 'lib*.so.*' -printf '%h\n' | sort -u | paste -sd: -)
        export LD_LIBRARY_PATH="$dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    fi
    refresh_sonames
}

section "libraries (--unpack $unpack)"
unpack_libraries

# 2. The adapter --------------------------------------------------------------

export WGPU_BACKEND=${WGPU_BACKEND:-vulkan}
probe_json=$out/probe.json
probe_log=$(mktemp)
trap 'rm -f "$probe_log"' EXIT
adapter="" device_type="" backend=""

# probe: 0 and adapter/device_type/backend set where wgpu found an adapter.
probe() {
    adapter="" device_type="" backend=""
    rm -f "$probe_json"
    if ! "$bin" bench --rows 1000 --features 4 --batch-sizes full --epochs 1 --device gpu \
        --json "$probe_json" >"$probe_log" 2>&1 || [ ! -s "$probe_json" ]; then
        return 1
    fi
    local fields
    fields=$("$python" -c '
import json, sys
gpu = json.load(open(sys.argv[1]))["machine"]["gpu"]
print(gpu["device_type"]); print(gpu["backend"]); print(gpu["adapter"])' "$probe_json")
    { read -r device_type; read -r backend; read -r adapter; } <<<"$fields"
}
describe() {
    if [ -n "$adapter" ]; then echo "$adapter ($backend, $device_type)"; else echo "none"; fi
}
is_gpu() {
    [ -n "$device_type" ] && [ "$device_type" != Cpu ]
}
find_nvidia_icd() {
    local candidate
    for candidate in ${DOWNHILL_VK_ICD:+"$DOWNHILL_VK_ICD"} \
        /usr/local/nvidia/share/vulkan/icd.d/nvidia*.json \
        /usr/share/vulkan/icd.d/nvidia*.json \
        /etc/vulkan/icd.d/nvidia*.json \
        /usr/local/share/vulkan/icd.d/nvidia*.json \
        /usr/local/nvidia/etc/vulkan/icd.d/nvidia*.json; do
        if [ -f "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
# Why the library an ICD JSON names did not load: where it is and what it
# lacks.
diagnose_icd() {
    local library path dir dirs
    library=$("$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["ICD"]["library_path"])' "$1" 2>/dev/null || true)
    echo "its library: ${library:-unreadable}"
    [ -n "$library" ] || return 0
    if [[ $library == /* ]]; then
        path=$library
    else
        path=$("$ldconfig_bin" -p 2>/dev/null | awk -v n="$library" '$1 == n { print $NF; exit }')
        if [ -z "$path" ]; then
            IFS=: read -r -a dirs <<<"${LD_LIBRARY_PATH:-}"
            for dir in "${dirs[@]}" /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
                if [ -n "$dir" ] && [ -e "$dir/$library" ]; then path=$dir/$library; break; fi
            done
        fi
    fi
    if [ -z "$path" ] || [ ! -e "$path" ]; then
        echo "  not found by the dynamic linker (ldconfig -p, LD_LIBRARY_PATH, /usr/local/nvidia/lib64)"
    elif command -v ldd >/dev/null 2>&1; then
        echo "  at $path; libraries it lacks:"
        ldd "$path" 2>&1 | grep -i 'not found' | sed 's/^/    /' || echo "    none"
    fi
}

section "adapter (WGPU_BACKEND=$WGPU_BACKEND)"
# The probe's error, where it found no adapter.
probe_error() {
    { grep -i 'error' "$probe_log" || tail -n 2 "$probe_log"; } | tail -n 2 | sed 's/^/  /'
}
probed=0
probe && probed=1
echo "first try: $(describe)${VK_DRIVER_FILES:+ (VK_DRIVER_FILES=$VK_DRIVER_FILES)}"
[ "$probed" = 1 ] || probe_error
if ! is_gpu; then
    if icd=$(find_nvidia_icd) && [ "$icd" != "${VK_DRIVER_FILES:-}" ]; then
        first=("$adapter" "$device_type" "$backend" "${VK_DRIVER_FILES-}" "${VK_ICD_FILENAMES-}"
            "${VK_DRIVER_FILES+1}" "${VK_ICD_FILENAMES+1}")
        export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
        probed=0
        probe && probed=1
        echo "second try, with VK_DRIVER_FILES=VK_ICD_FILENAMES=$icd: $(describe)"
        if [ "$probed" = 0 ]; then
            probe_error
            diagnose_icd "$icd"
        fi
        if ! is_gpu; then
            # Keep the second try only where it found an adapter and the
            # first did not; else back to the first try's environment.
            if [ -n "${first[1]}" ] || [ -z "$device_type" ]; then
                if [ -n "${first[5]}" ]; then export VK_DRIVER_FILES=${first[3]}; else unset VK_DRIVER_FILES; fi
                if [ -n "${first[6]}" ]; then export VK_ICD_FILENAMES=${first[4]}; else unset VK_ICD_FILENAMES; fi
                if [ -n "${first[1]}" ]; then
                    probe || true  # the probe's JSON in $OUT is the adapter used
                fi
                adapter=${first[0]} device_type=${first[1]} backend=${first[2]}
            fi
        fi
    else
        echo "no NVIDIA Vulkan ICD JSON found (looked in /usr/local/nvidia/share/vulkan/icd.d, /usr/share/vulkan/icd.d, /etc/vulkan/icd.d, /usr/local/share/vulkan/icd.d; DOWNHILL_VK_ICD names another)"
    fi
fi
software=0
if [ -z "$device_type" ]; then
    echo "run.sh: FAILED: wgpu found no adapter at all (WGPU_BACKEND=$WGPU_BACKEND): see the errors above" >&2
    exit 1
elif [ "$device_type" = Cpu ]; then
    software=1
    if [ "$allow_software" != 1 ]; then
        cat >&2 <<EOF
run.sh: REFUSED: the adapter is a software one: $(describe).
Its timings are the CPU running the shaders, not GPU numbers, so none are taken.
On a GPU machine this means wgpu did not reach the GPU's Vulkan driver: see the
lines above (the NVIDIA ICD JSON tried, the libraries it lacks), or name the
driver's JSON with DOWNHILL_VK_ICD=/path/to/nvidia_icd.json.
To run anyway on a machine without a GPU (development, CI): add --allow-software.
EOF
        exit 3
    fi
    echo "WARNING: software adapter, allowed by --allow-software: the timings below are NOT GPU numbers"
fi
echo "adapter: $(describe)"

# 3. Measurements -------------------------------------------------------------

data_root=$stage/data
peer_failures=0
for model in "${model_list[@]}"; do
    data=$data_root/$model
    section "downhill bench: $model, $rows × $features, batch sizes $batch_sizes, $epochs epochs, devices $devices, kernels $kernels"
    rm -rf "$data"
    mkdir -p "$data"
    "$bin" bench --rows "$rows" --features "$features" --model "$model" \
        --batch-sizes "$batch_sizes" --epochs "$epochs" --device "$devices" --kernels "$kernels" \
        --lr 0.001 --json "$out/downhill-$model.json" --dump-data "$data"

    section "PyTorch peers: $model"
    if ! "$python" "$peers_script" --data "$data" --rows "$rows" --features "$features" \
        --model "$model" --batch-sizes "$batch_sizes" --epochs "$epochs" --lr 0.001 \
        --json "$out/torch-$model.json"; then
        echo "run.sh: the PyTorch peers failed for $model (see above); the table marks them so" >&2
        rm -f "$out/torch-$model.json"
        peer_failures=$((peer_failures + 1))
    fi
    if [ "$keep_data" != 1 ]; then
        rm -rf "$data"
    fi
done
[ "$keep_data" = 1 ] || rmdir "$data_root" 2>/dev/null || true

# 3b. Sparse rows (issue 25): the full-batch pass and mini-batches of 256
# and 4096 over CSR arrays on the device against the CPU's, on RCV1-shaped
# rows (1,000,000 × 47,000, about 75 entries a row, 0.6 GB of CSR), rates
# in GB/s of CSR read. Skipped with DOWNHILL_BENCH_SPARSE=0.
# On a software adapter (--allow-software: CI, development machines) the
# rows are --rows', so that the run stays short; its timings mean nothing.
sparse_rows=1000000
[ "$allow_software" = 1 ] && sparse_rows=$rows
if [ "${DOWNHILL_BENCH_SPARSE:-1}" = 1 ]; then
    section "sparse rows"
    if ! "$bin" bench --sparse 75 --rows "$sparse_rows" --features 47000 --model logistic \
        --batch-sizes 256,4096,full --epochs "$epochs" --device cpu,gpu --json "$out/sparse.json"; then
        echo "run.sh: the sparse run failed (see above)" >&2
    fi
fi

# 3c. Many models in one pass (issue 27): a path of 20 L2 strengths by
# full-batch gradient descent in lockstep (one pass over the rows a round
# for all of them; on the GPU up to 32 models' margins from one read of a
# row) against one fit of the same epochs, then a 5-fold cross-validation
# of them with the folds side by side and one after another, logistic,
# 1,000,000 × 64, on both devices: $OUT/path.json. Skipped with DOWNHILL_BENCH_PATH=0; on a
# software adapter the rows are --rows'.
path_rows=1000000
[ "$allow_software" = 1 ] && path_rows=$rows
if [ "${DOWNHILL_BENCH_PATH:-1}" = 1 ]; then
    section "a path of 20 strengths"
    if ! "$bin" bench --path 20 --folds 5 --rows "$path_rows" --features 64 --model logistic \
        --epochs "$epochs" --device cpu,gpu --kernels "$kernels" --json "$out/path.json"; then
        echo "run.sh: the path run failed (see above)" >&2
    fi
fi

# 4. The tables ---------------------------------------------------------------

section "results"
manifest=$stage/MANIFEST
if [ "$bin" != "$stage/downhill" ]; then
    manifest=""  # it describes the staged binary, not this one
    command_line="DOWNHILL_BINARY=$bin $command_line"
fi
"$python" "$summarize_script" --out "$out" --models "$models" \
    ${manifest:+--manifest "$manifest"} --command "$command_line"
echo "written in $out: $(find "$out" -maxdepth 1 -type f -printf '%f\n' | sort | paste -sd' ' -)"
if [ "$software" = 1 ]; then
    echo "NOTE: software adapter ($adapter): not GPU numbers; do not record them as such."
fi
if [ "$peer_failures" -gt 0 ]; then
    echo "run.sh: FAILED: the PyTorch peers failed for $peer_failures model(s)" >&2
    exit 1
fi
