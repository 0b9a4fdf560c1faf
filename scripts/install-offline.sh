#!/bin/sh
# Install the offline tools (intake-verifier, intake-admin, intake-courier) on
# an air-gapped laptop, from the wheels in this folder only: no network, no
# package index, no configuration. `make wheelhouse` puts this script in the
# folder as install.sh.
#
#   sh install.sh [TARGET]      # TARGET: a new folder, default ~/intake-tools
#
# Needs Python 3.11 or newer with its venv module (Debian/Ubuntu: python3-venv),
# of the same version and CPU type as the machine that built the wheelhouse
# (the PyNaCl and cffi wheels are compiled for one).
set -eu

prog=install.sh
fail() {
	echo "$prog: error: $1" >&2
	[ -n "${2:-}" ] && echo "$prog: hint: $2" >&2
	exit 1
}

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
target=${1:-"$HOME/intake-tools"}
python=${PYTHON:-python3}

command -v "$python" >/dev/null 2>&1 ||
	fail "$python not found" "install Python 3.11 or newer, or set PYTHON=/path/to/python3"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
	fail "$("$python" -V 2>&1) is too old" "Python 3.11 or newer is needed"
ls "$here"/intake-*.whl >/dev/null 2>&1 ||
	fail "no intake wheel in $here" "run this script from the unpacked wheelhouse folder"

# A checksum list, when the wheelhouse has one, catches a damaged copy (and a
# careless substitution) before anything is installed.
if [ -f "$here/SHA256SUMS" ]; then
	if command -v sha256sum >/dev/null 2>&1; then
		check="sha256sum --check --quiet --strict"
	else
		check="shasum -a 256 --check --quiet"
	fi
	(cd "$here" && $check SHA256SUMS) ||
		fail "a file in $here does not match SHA256SUMS" "copy the wheelhouse again from a trusted machine"
fi

if [ -e "$target" ] && [ ! -x "$target/bin/python" ]; then
	fail "$target exists and is not an install of these tools" "name a new folder: sh $0 FOLDER"
fi
"$python" -m venv "$target" ||
	fail "could not create a virtual environment in $target" "on Debian or Ubuntu: apt install python3-venv"

# This folder is the only source: no index, and no pip configuration of this
# machine (a find-links or index setting would add other, unchecked wheels);
# --only-binary: nothing is built (no compiler, no build dependencies fetched).
for name in $(env | sed -n 's/^\(PIP_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$name"
done
PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
	"$target/bin/python" -m pip install --quiet --no-index --find-links "$here" \
	--only-binary=:all: --upgrade intake ||
	fail "pip could not install the tools from $here" "was the wheelhouse built for this Python version and CPU?"

"$target/bin/intake-verifier" --help >/dev/null ||
	fail "the installed intake-verifier does not run" "check the messages above"
echo "Installed in $target:"
echo "  $target/bin/intake-verifier, $target/bin/intake-admin, $target/bin/intake-courier"
echo "Add $target/bin to PATH, or call the tools by these full paths."
