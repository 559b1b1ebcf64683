#!/usr/bin/env bash
# End to end on this machine: a real Synapse (the Cactus side) and a real Isso (the new
# comment system), both on 127.0.0.1 in a temp folder. Seeds a small site into Synapse,
# migrates it with comment-migrate, prints the Isso threads, runs the migration once more
# (nothing is sent twice) and stops both servers, whatever happens.
#
#   bash demos/end_to_end_local.sh
#
# Uses the `python` (and `isso`, `comment-migrate`) first on PATH: activate the virtualenv
# the project is installed in, with its test extra: pip install -e '.[test]'
set -euo pipefail

cd "$(dirname "$0")/.."
REPO="$(pwd)"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
# loopback traffic must not go through a proxy
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
export no_proxy="$NO_PROXY"
unset END_TO_END_DEMO_MATRIX_TOKEN  # read as a guest

if ! python -c "import synapse" 2>/dev/null || ! command -v isso >/dev/null 2>&1; then
    echo "This demo needs Synapse and Isso installed next to comment-migrate:"
    echo "    pip install -e '.[test]'"
    echo "Skipping it."
    exit 0
fi
if command -v comment-migrate >/dev/null 2>&1; then
    CM=(comment-migrate)
else
    CM=(python -m migrate)
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/end-to-end-demo.XXXXXX")"
cleanup() {
    python "$REPO/demos/_local_servers.py" stop "$WORK" || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# `show CMD...`: print the command as a site owner would type it, run it, print its status
show() {
    echo
    echo "\$ comment-migrate $*"
    local status=0
    (cd "$WORK" && "${CM[@]}" "$@" 2>&1) || status=$?
    echo "(exit status $status)"
    return "$status"
}

echo "== Starting Synapse and Isso on 127.0.0.1 (in $WORK)"
python "$REPO/demos/_local_servers.py" start "$WORK"

echo
echo "== migration.toml"
cat "$WORK/migration.toml"

echo
echo "== Migrating"
show run -c migration.toml

echo
echo "== The threads in Isso"
python "$REPO/demos/_local_servers.py" threads "$WORK"

if (cd "$WORK" && "${CM[@]}" verify --help >/dev/null 2>&1); then
    echo
    echo "== Verifying"
    show verify -c migration.toml || echo "(verify reported differences; see above)"
else
    echo
    echo "(comment-migrate verify is not available in this version: skipped)"
fi

echo
echo "== Running again: every page is complete, nothing is sent twice"
show run -c migration.toml

echo
echo "== Done; stopping the servers"
