# Shared setup for scripts/run-tests and scripts/run-example; source it, don't run it.
#
# After sourcing, the working directory is the repository root. Call
# ensure_venv to get .venv with flask-linkback installed (editable) together
# with its test and postgres extras.

LINKBACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$LINKBACK_ROOT"

VENV=.venv
VENV_PY="$VENV/bin/python"

say() { echo "[${0##*/}] $*"; }
die() { echo "[${0##*/}] error: $*" >&2; exit 1; }

# Run a command as root: directly when we are root, else through sudo.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# True when this machine can install Debian packages: apt-get plus root or sudo.
can_apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    [[ $(id -u) -eq 0 ]] || command -v sudo >/dev/null 2>&1
}

_APT_UPDATED=
apt_install() {
    can_apt_install || die "cannot install $* : no apt-get, or neither root nor sudo"
    if [[ -z $_APT_UPDATED ]]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
        _APT_UPDATED=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
}

# Create .venv if needed and install the project into it (editable, with the
# test and postgres extras). The install is skipped when pyproject.toml has
# not changed since the last successful one.
ensure_venv() {
    local python=${PYTHON:-python3}
    command -v "$python" >/dev/null 2>&1 || die "$python not found; install Python 3.11 or newer"

    # A half-created .venv (e.g. from a run without python3-venv) has no pip: start over.
    if [[ -d $VENV ]] && ! "$VENV_PY" -m pip --version >/dev/null 2>&1; then
        say "$VENV is incomplete; recreating it"
        rm -rf "$VENV"
    fi
    if [[ ! -d $VENV ]]; then
        if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            say "the Python venv module is missing; installing python3-venv"
            apt_install python3-venv
        fi
        say "creating $VENV"
        "$python" -m venv "$VENV"
    fi

    local stamp="$VENV/.flask-linkback-installed" want
    want=$(cat pyproject.toml setup.cfg 2>/dev/null | sha256sum | cut -d' ' -f1)
    if [[ -f $stamp && $(cat "$stamp") == "$want" ]] && "$VENV_PY" -c 'import flask_linkback' >/dev/null 2>&1; then
        return 0
    fi
    say "installing flask-linkback and its test dependencies into $VENV"
    "$VENV_PY" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV_PY" -m pip install -q -e '.[test,postgres]'
    echo "$want" >"$stamp"
}
