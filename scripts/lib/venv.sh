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

# The page tests (tests/browser) drive Debian's Chromium through Playwright; browsers are never
# downloaded. Without it they skip and say so. CI sets REQUIRE_BROWSER=1: a missing Chromium is
# then installed from Debian's packages when this runs as root with apt-get, or is an error.
ensure_chromium() {
    local chromium=${LAUREL_CHROMIUM:-/usr/bin/chromium}
    [[ -x "$chromium" ]] && return
    if [[ "${REQUIRE_BROWSER:-}" != "1" ]]; then
        printf '\n%s not found: the page tests will be skipped (apt-get install chromium)\n' "$chromium" >&2
        return
    fi
    if [[ "$chromium" == /usr/bin/chromium && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        step "Installing Debian's chromium for the page tests"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; } \
            || die "could not install chromium with apt-get"
        return
    fi
    die "Chromium is not installed at $chromium and REQUIRE_BROWSER=1: apt-get install chromium (or set LAUREL_CHROMIUM)"
}
