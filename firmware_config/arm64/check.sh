#!/usr/bin/env bash
# Pi proof without a Pi: run the device package on arm64 Debian bookworm (Raspberry Pi OS's base,
# Python 3.11) under qemu user-mode emulation, on a bundle and hums made on this x86-64 machine,
# and compare its answers with the x86 run, for every backend that installs on arm64.
#
#   sudo firmware_config/arm64/check.sh            # root: debootstrap, chroot, binfmt need it
#
# Environment: ARM64_ROOT (default .cache/arm64/root, reused between runs), QEMU_CPU (cortex-a72 =
# Pi 4, cortex-a76 = Pi 5; default cortex-a72), ARM64_OUT (results; default .cache/arm64/out),
# ARM64_BACKENDS (default "onnx litert").
# First run: ~4 min debootstrap + ~4 min wheels and the hnswlib build; later runs: the queries only.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
ROOT="${ARM64_ROOT:-$REPO/.cache/arm64/root}"
OUT="${ARM64_OUT:-$REPO/.cache/arm64/out}"
export QEMU_CPU="${QEMU_CPU:-cortex-a72}"
BACKENDS="${ARM64_BACKENDS:-onnx litert}"
BUNDLE="$REPO/demo/demo.humbundle"
HUMS=("$REPO"/demo/hums/*)

say() { echo "== $*" >&2; }

# 1. arm64 binaries must run: qemu-user-static registered with binfmt_misc.
command -v qemu-aarch64-static >/dev/null && command -v debootstrap >/dev/null || {
    say "installing qemu-user-static binfmt-support debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support debootstrap >/dev/null
}
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable qemu-aarch64
fi

# 2. The root file system (cached).
if [ ! -x "$ROOT/usr/bin/python3.11" ]; then
    say "debootstrap arm64 bookworm into $ROOT (about 4 minutes)"
    rm -rf "$ROOT"
    mkdir -p "$(dirname "$ROOT")"
    debootstrap --arch=arm64 --variant=minbase \
        --include=python3,python3-venv,python3-pip,libportaudio2,g++,python3-dev \
        bookworm "$ROOT" http://deb.debian.org/debian >/dev/null
fi

# 3. What the chroot needs from the host: DNS and CA certificates for pip, a Pi's /proc/cpuinfo
#    (onnxruntime reads CPU features from it and crashes on the host's x86 text); /sys stays unmounted.
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/host-ca.crt"
cleanup() { umount "$ROOT/proc/cpuinfo" 2>/dev/null || true; umount "$ROOT/proc" 2>/dev/null || true; }
trap cleanup EXIT
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
mount --bind "$REPO/firmware_config/arm64/cpuinfo-pi4.txt" "$ROOT/proc/cpuinfo"
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/opt/hum/bin:/usr/bin:/bin HOME=/root QEMU_CPU="$QEMU_CPU" \
    PIP_CERT=/etc/ssl/certs/host-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 HNSWLIB_NO_NATIVE=1 "$@"; }

# 4. The device package, and nothing more: the device extra (+ ai-edge-litert for the litert backend).
rm -rf "$ROOT/opt/src" && mkdir -p "$ROOT/opt/src"
git -C "$REPO" ls-files -z | (cd "$REPO" && xargs -0 cp --parents -t "$ROOT/opt/src")
[ -x "$ROOT/opt/hum/bin/python" ] || in_root python3 -m venv /opt/hum
stamp="$(git -C "$REPO" rev-parse HEAD)"
if [ "$(cat "$ROOT/opt/hum/installed" 2>/dev/null)" != "$stamp" ]; then
    say "pip install the device extra inside arm64 (hnswlib compiles without -march=native: ~3 min the first time)"
    in_root /opt/hum/bin/pip install -q "/opt/src[device,litert]"
    echo "$stamp" > "$ROOT/opt/hum/installed"
fi
in_root /opt/hum/bin/python -c "import importlib.util as u, sys; sys.exit(0 if u.find_spec('torch') is None else 'torch is installed on the device side')"

# 5. The same bundle and hums, queried on both sides, every backend. Files are named relative to
#    the hums folder on both sides so the answers compare line by line. The arm64 run also reports
#    which training-side modules the query imported (there must be none).
rm -rf "$ROOT/opt/check" "$OUT" && mkdir -p "$ROOT/opt/check/hums" "$OUT"
cp "$BUNDLE" "$ROOT/opt/check/"
cp "${HUMS[@]}" "$ROOT/opt/check/hums/"
names=(); for h in "${HUMS[@]}"; do names+=("$(basename "$h")"); done
PROBE='import json, sys
from device.cli import main
rc = main(sys.argv[1:])
heavy = {"torch", "models", "export", "index_builder", "scipy", "music21", "mido"}
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)), file=sys.stderr)
sys.exit(rc)'
for backend in $BACKENDS; do
    say "x86-64: $backend"
    (cd "$REPO/demo/hums" && python -m device.cli query --bundle "$BUNDLE" --backend "$backend" --json --top 10 "${names[@]}") \
        > "$OUT/x86-$backend.jsonl"
    say "arm64 ($QEMU_CPU, emulated): $backend"
    start=$(date +%s%N)
    in_root /usr/bin/env -C /opt/check/hums /opt/hum/bin/python -c "$PROBE" \
        query --bundle /opt/check/demo.humbundle --backend "$backend" --json --top 10 "${names[@]}" \
        > "$OUT/arm64-$backend.jsonl" 2> "$OUT/arm64-$backend.imports"
    echo $(( ($(date +%s%N) - start) / 1000000 )) > "$OUT/arm64-$backend.wall_ms"
done
python "$REPO/firmware_config/arm64/compare.py" --out "$OUT" --backends $BACKENDS \
    --arm64-machine "$(in_root uname -m)" --qemu-cpu "$QEMU_CPU"
