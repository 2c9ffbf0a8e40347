#!/usr/bin/env bash
# Stages everything a bare GPU machine without network needs for
# benches/gpu/run.sh into .gpu-bench/ at the repository root:
#
#   .gpu-bench/downhill        the release binary (debug info stripped)
#   .gpu-bench/*.deb           the Vulkan loader and the libraries NVIDIA's
#                              Vulkan driver library needs (Debian amd64)
#   .gpu-bench/torch_peers.py  the PyTorch peers, and summarize.py
#   .gpu-bench/MANIFEST        what was staged, from which commit, when
#
# Run it on a development machine (Debian, x86-64, network to the Debian
# mirrors) from the repository root:
#
#   benches/gpu/stage.sh                                   # cargo build --release first
#   DOWNHILL_BINARY=/path/to/downhill benches/gpu/stage.sh # copy that binary instead
#
# Environment:
#   DOWNHILL_BINARY     a built binary to copy instead of building one
#   DOWNHILL_GPU_DEBS   the Debian packages to download (default below)
#   DOWNHILL_GPU_LIMIT_MIB  the size limit in MiB (default 64: what a device
#                       call carries, working tree included)
#
# Everything lands in .gpu-bench/, which .gitignore ignores. An earlier run's
# .gpu-bench/out/ is kept; everything else there is replaced.
set -euo pipefail

root=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
cd "$root"
if [ ! -f Cargo.toml ] || [ ! -d benches/gpu ]; then
    echo "stage.sh: run it from the downhill repository (no Cargo.toml and benches/gpu here: $root)" >&2
    exit 1
fi

stage=.gpu-bench
limit_mib=${DOWNHILL_GPU_LIMIT_MIB:-64}

# What wgpu's Vulkan backend needs on a machine that has only the NVIDIA
# driver: wgpu dlopens the Vulkan loader (libvulkan.so.1, from libvulkan1);
# the loader dlopens the library that NVIDIA's ICD JSON names
# (libGLX_nvidia.so.0), which is linked against libGLdispatch.so.0
# (libglvnd0), libX11.so.6 and libXext.so.6 (libx11-6, libxext6 and what
# they need: libxcb1, libxau6, libxdmcp6, libbsd0, libmd0, libx11-data).
# libegl1 is for wgpu's GL backend (WGPU_BACKEND=gl), a fallback only; the
# other GL dispatch libraries are the set this workplace's GPU machines were
# seen rendering with. run.sh unpacks only the packages whose libraries the
# machine lacks.
default_debs="libvulkan1 libglvnd0 libx11-6 libx11-data libxext6 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0 libegl1 libopengl0 libgl1 libglx0 libgles2"
read -r -a debs <<<"${DOWNHILL_GPU_DEBS:-$default_debs}"

# 1. The binary.
if [ -n "${DOWNHILL_BINARY:-}" ]; then
    binary=$DOWNHILL_BINARY
    [ -x "$binary" ] || { echo "stage.sh: DOWNHILL_BINARY=$binary is not an executable file" >&2; exit 1; }
    binary_source="copied from $binary (built elsewhere; the commit below is this checkout's, not necessarily the binary's)"
else
    if ! command -v cargo >/dev/null 2>&1; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    echo "== cargo build --release --bin downhill"
    cargo build --release --bin downhill
    binary=target/release/downhill
    binary_source="built here by cargo build --release --bin downhill"
fi
# It must be an x86-64 ELF: the GPU machine is x86-64 (e_machine 0x3e).
magic=$(od -An -tx1 -N4 "$binary" | tr -d ' \n')
machine=$(od -An -tx1 -j18 -N2 "$binary" | tr -d ' \n')
if [ "$magic" != 7f454c46 ] || [ "$machine" != 3e00 ]; then
    echo "stage.sh: $binary is not an x86-64 ELF binary (magic $magic, machine $machine): build it on, or for, x86_64-unknown-linux-gnu" >&2
    exit 1
fi

# 2. A clean stage, keeping results of earlier runs.
mkdir -p "$stage"
find "$stage" -mindepth 1 -maxdepth 1 ! -name out -exec rm -rf {} +

echo "== binary: $binary"
if command -v strip >/dev/null 2>&1; then
    # Debug info, where a profile kept it, is tens of MB; symbols stay.
    strip --strip-debug -o "$stage/downhill" "$binary"
else
    echo "warning: no strip here; the binary is copied with its debug info" >&2
    cp "$binary" "$stage/downhill"
fi
chmod +x "$stage/downhill"
version=$("$stage/downhill" --version 2>/dev/null || echo "downhill (cannot run here)")

# 3. The packages, for amd64, into the stage.
apt_state=${TMPDIR:-/tmp}/downhill-apt-amd64-$(id -u)
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$apt_state")
if [ "$(id -u)" = 0 ]; then
    o+=(-oAPT::Sandbox::User=root)  # _apt could not write into the stage
fi
mkdir -p "$apt_state/partial"
echo "== apt-get update (amd64 lists in $apt_state)"
if ! apt-get "${o[@]}" update -qq; then
    if ls "$apt_state"/*Packages* >/dev/null 2>&1; then
        echo "warning: apt-get update failed; using the lists from an earlier update" >&2
    else
        echo "stage.sh: apt-get update failed and there are no earlier lists in $apt_state" >&2
        exit 1
    fi
fi
echo "== apt-get download ${debs[*]}"
(cd "$stage" && apt-get "${o[@]}" download "${debs[@]}")
# Plain names (NAME.deb): apt's names carry the version's epoch as %3a.
for name in "${debs[@]}"; do
    files=("$stage/${name}"_*.deb)
    if [ ! -f "${files[0]}" ]; then
        echo "stage.sh: apt-get download did not fetch $name" >&2
        exit 1
    fi
    mv "${files[0]}" "$stage/$name.deb"
done

# 4. The scripts that run there (run.sh itself travels with the repository).
cp benches/gpu/torch_peers.py benches/gpu/summarize.py "$stage/"

# 5. The manifest.
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    commit="$commit (with uncommitted changes)"
fi
{
    echo "staged: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm)"
    echo "binary: $version, $binary_source"
    echo "commit: $commit"
    echo "binary sha256: $(sha256sum "$stage/downhill" | cut -d' ' -f1)"
    echo "packages (Debian, amd64):"
    for f in "$stage"/*.deb; do
        if command -v dpkg-deb >/dev/null 2>&1; then
            echo "  $(dpkg-deb -f "$f" Package) $(dpkg-deb -f "$f" Version) $(dpkg-deb -f "$f" Architecture)"
        else
            echo "  $(basename "$f")"
        fi
    done
} >"$stage/MANIFEST"

# 6. The size: what a device call carries is the working tree (tracked and
# untracked-not-ignored files) plus the carried .gpu-bench, 64 MiB together.
stage_bytes=$(du -sb "$stage" | cut -f1)
tree_bytes=0
while IFS= read -r -d '' file; do
    if [ -f "$file" ]; then
        tree_bytes=$((tree_bytes + $(stat -c %s "$file")))
    fi
done < <(git ls-files -z --cached --others --exclude-standard 2>/dev/null)
total_bytes=$((stage_bytes + tree_bytes))
limit_bytes=$((limit_mib * 1024 * 1024))
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

echo "== staged in $stage/:"
ls -l "$stage"
cat "$stage/MANIFEST"
echo "size: $stage/ $(mib "$stage_bytes") + working tree $(mib "$tree_bytes") = $(mib "$total_bytes") (limit $limit_mib MiB)"
if [ "$total_bytes" -gt "$limit_bytes" ]; then
    echo "stage.sh: FAILED: $(mib "$total_bytes") is over the $limit_mib MiB limit; the biggest entries:" >&2
    du -ab "$stage" | sort -rn | head -n 8 >&2
    exit 1
fi
echo "ready: on the GPU machine, from the repository root with $stage/ beside it: benches/gpu/run.sh"
