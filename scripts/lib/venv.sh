# Sourced by scripts/serve and scripts/test: create .venv (Python 3.11+) if missing and install
# the project with the given extras, again whenever pyproject.toml changes.
#   ensure_venv ""        the server only
#   ensure_venv "dev"     the server, the PostgreSQL driver and the test tools

VENV=.venv

step() { printf '\n==> %s\n' "$*"; }
die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

find_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
    elif command -v python3.11 >/dev/null 2>&1; then
        echo python3.11
    elif command -v python3 >/dev/null 2>&1; then
        echo python3
    else
        die "Python 3.11 or newer is needed: install python3.11 (or set PYTHON=/path/to/python)"
    fi
}

ensure_venv() {
    local extras=$1
    local stamp="$VENV/.laurel-installed${extras:+-$extras}"
    if [[ ! -x "$VENV/bin/python" ]]; then
        local python version
        python=$(find_python)
        if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            version=$("$python" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null) \
                || version="not runnable"
            die "Python 3.11 or newer is needed to create $VENV, but $python is $version (install python3.11, or set PYTHON=/path/to/python3.11)"
        fi
        step "Creating $VENV with $("$python" -V 2>&1)"
        "$python" -m venv "$VENV" \
            || die "could not create $VENV (on Debian/Ubuntu: apt-get install python3-venv)"
    elif ! "$VENV/bin/python" -c '' 2>/dev/null; then
        die "$VENV is broken (its Python no longer runs): delete it and run $(basename "$0") again"
    fi
    if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
        step "Installing the project${extras:+ with [$extras]} into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
        touch "$stamp"
    fi
}

# The Node.js clients the tests drive Laurel with (tests/clients/*/package.json), installed from
# their lockfiles, again whenever a lockfile changes. Without npm they are left out: their tests
# then skip and say so (CI sets REQUIRE_NODE=1, which makes a missing npm an error).
ensure_node_clients() {
    if ! command -v npm >/dev/null 2>&1; then
        if [[ "${REQUIRE_NODE:-}" == "1" ]]; then
            die "npm is not installed and REQUIRE_NODE=1: install Node.js 20 or newer with npm"
        fi
        printf '\nnpm not found: the Apollo Client tests will be skipped (install Node.js 20+ with npm)\n' >&2
        return
    fi
    local client
    for client in tests/clients/*/; do
        [[ -f "$client/package-lock.json" ]] || continue
        if [[ ! -f "$client/node_modules/.laurel-installed" \
            || "$client/package-lock.json" -nt "$client/node_modules/.laurel-installed" ]]; then
            step "npm ci in $client"
            (cd "$client" && npm ci --no-audit --no-fund --loglevel=error)
            touch "$client/node_modules/.laurel-installed"
        fi
    done
}
