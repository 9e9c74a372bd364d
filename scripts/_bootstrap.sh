# shellcheck shell=bash
# Shared bootstrap of scripts/test and scripts/demo. Source it; do not run it.
#
# Needs only python3 (3.10+) and node/npm (node 18+) on the machine. It
#   - finds uv on PATH (if new enough) or installs the pinned uv into .tools/ (git-ignored),
#   - installs the JS toolchain (`npm --prefix js ci`) when js/node_modules is missing or stale,
#   - builds the front end bundle into kontext_widgets/static/ (`npm --prefix js run build`),
#   - makes .venv with `uv sync --locked` (the system Python; uv never downloads one),
#   - puts .venv/bin first on PATH.
# The JS is built before `uv sync`, so the editable install's build hook finds a fresh bundle and
# does not run npm a second time.
#
# Knobs (environment): KW_PYTHON (python to use, default python3), KW_UV (a uv binary to use).

# Keep in step with the `uv` version locked in uv.lock (tests/test_packaging.py checks it).
KW_UV_VERSION="0.13.9"
KW_MIN_PYTHON="3.10"
KW_MIN_NODE_MAJOR=18

KW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$KW_ROOT" || exit 1

kw_log() {
    if [[ -t 2 ]]; then
        printf '\033[1m[%s]\033[0m %s\n' "${KW_SCRIPT:-bootstrap}" "$*" >&2
    else
        printf '[%s] %s\n' "${KW_SCRIPT:-bootstrap}" "$*" >&2
    fi
}
kw_die() { kw_log "error: $*"; exit 1; }

# Prints elapsed seconds since the script started (bash's SECONDS).
kw_step() { kw_log "($(printf '%3d' "$SECONDS")s) $*"; }

kw_require_python() {
    local py="${KW_PYTHON:-python3}"
    command -v "$py" >/dev/null 2>&1 ||
        kw_die "$py not found: install Python ${KW_MIN_PYTHON}+ (Debian: apt-get install python3 python3-venv) or set KW_PYTHON"
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        kw_die "$py is Python $("$py" -c 'import platform; print(platform.python_version())'); ${KW_MIN_PYTHON}+ is needed (set KW_PYTHON)"
    # The real interpreter, not a shim (pyenv), so uv does not go searching.
    KW_PYTHON_EXE="$("$py" -c 'import sys; print(sys.executable)')"
    export KW_PYTHON_EXE
}

# True when version $1 >= version $2 (dotted numbers).
kw_version_ge() {
    "$KW_PYTHON_EXE" - "$1" "$2" <<'EOF'
import re, sys
def key(v): return tuple(int(x) for x in re.findall(r"\d+", v)[:3])
sys.exit(0 if key(sys.argv[1]) >= key(sys.argv[2]) else 1)
EOF
}

kw_uv_version() { "$1" --version 2>/dev/null | awk '{print $2}'; }

kw_ensure_uv() {
    local candidate have
    for candidate in "${KW_UV:-}" "$(command -v uv 2>/dev/null || true)"; do
        [[ -n "$candidate" && -x "$candidate" ]] || continue
        have="$(kw_uv_version "$candidate")"
        if [[ -n "$have" ]] && kw_version_ge "$have" "$KW_UV_VERSION"; then
            KW_UV="$candidate"
            kw_step "uv $have: $KW_UV"
            return
        fi
        kw_log "ignoring $candidate (uv ${have:-?}, need >= $KW_UV_VERSION)"
    done

    local tools="$KW_ROOT/.tools"
    if [[ -x "$tools/bin/uv" && "$(kw_uv_version "$tools/bin/uv")" == "$KW_UV_VERSION" ]]; then
        KW_UV="$tools/bin/uv"
        kw_step "uv $KW_UV_VERSION: $KW_UV"
        return
    fi
    kw_step "installing uv==$KW_UV_VERSION into .tools/ (pip from PyPI)"
    rm -rf "$tools"
    if "$KW_PYTHON_EXE" -m venv "$tools" >/dev/null 2>&1; then
        "$tools/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$KW_UV_VERSION" ||
            kw_die "pip could not install uv==$KW_UV_VERSION into .tools/"
    elif "$KW_PYTHON_EXE" -m pip --version >/dev/null 2>&1; then
        # No venv module (Debian without python3-venv): a plain target directory works too.
        rm -rf "$tools"
        "$KW_PYTHON_EXE" -m pip install --quiet --disable-pip-version-check \
            --target "$tools/site" "uv==$KW_UV_VERSION" ||
            kw_die "pip could not install uv==$KW_UV_VERSION into .tools/"
        mkdir -p "$tools/bin"
        ln -sf "$tools/site/bin/uv" "$tools/bin/uv"
    else
        kw_die "cannot install uv: $KW_PYTHON_EXE has neither venv nor pip (Debian: apt-get install python3-venv), or put uv >= $KW_UV_VERSION on PATH"
    fi
    KW_UV="$tools/bin/uv"
    [[ "$(kw_uv_version "$KW_UV")" == "$KW_UV_VERSION" ]] || kw_die "uv in .tools/ does not run"
}

kw_require_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        kw_die "node and npm are needed to build the front end (node ${KW_MIN_NODE_MAJOR}+; Debian: apt-get install nodejs npm)"
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    ((major >= KW_MIN_NODE_MAJOR)) || kw_die "node $(node --version) is too old; ${KW_MIN_NODE_MAJOR}+ is needed"
}

# `npm ci` when node_modules is missing or older than package.json / package-lock.json
# (npm writes node_modules/.package-lock.json on every install).
kw_npm_ci_if_needed() {
    local stamp="js/node_modules/.package-lock.json"
    if [[ ! -f "$stamp" || js/package-lock.json -nt "$stamp" || js/package.json -nt "$stamp" ]]; then
        kw_step "npm --prefix js ci"
        npm --prefix js ci
    else
        kw_step "js/node_modules is up to date"
    fi
}

kw_build_frontend() {
    kw_step "npm --prefix js run build"
    npm --prefix js run build
}

kw_sync() {
    export UV_PYTHON_DOWNLOADS=never
    export UV_PYTHON="${UV_PYTHON:-$KW_PYTHON_EXE}"
    kw_step "uv sync --locked (Python: $UV_PYTHON)"
    "$KW_UV" sync --locked
    KW_VENV="${UV_PROJECT_ENVIRONMENT:-$KW_ROOT/.venv}"
    [[ -x "$KW_VENV/bin/python" ]] || kw_die "uv sync made no environment at $KW_VENV"
    export VIRTUAL_ENV="$KW_VENV"
    export PATH="$KW_VENV/bin:$PATH"
}

kw_bootstrap() {
    kw_require_python
    kw_ensure_uv
    kw_require_node
    kw_npm_ci_if_needed
    kw_build_frontend
    kw_sync
    kw_step "bootstrap done"
}

# Debian's chromium for the browser tests (Playwright's own browser download cannot be used here).
# Does nothing when /usr/bin/chromium is there; never fails the run (browser tests report it).
kw_ensure_chromium() {
    [[ -x /usr/bin/chromium ]] && return 0
    local how="apt-get update && apt-get install -y --no-install-recommends chromium fonts-dejavu-core"
    if [[ "$(id -u)" != 0 ]]; then
        kw_log "warning: /usr/bin/chromium is missing and this is not root; browser tests need it: sudo sh -c '$how'"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        kw_log "warning: /usr/bin/chromium is missing and there is no apt-get; install Chromium at /usr/bin/chromium for the browser tests"
        return 0
    fi
    kw_step "installing Debian's chromium (apt-get)"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium fonts-dejavu-core >/dev/null; }; then
        kw_log "warning: installing chromium failed; browser tests will fail. Try: $how"
    fi
    return 0
}
