#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian 12 machine, idempotently:
# Debian packages, the Python virtualenv, the Go-built control plane, kubectl and helm,
# and the npm grammar used to check LogQL.  Safe to run again; fast when warm.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(prometheus mariadb-server mariadb-client redis-server nginx-light
              prometheus-alertmanager chromium fonts-liberation openssl
              prometheus-mysqld-exporter prometheus-redis-exporter prometheus-nginx-exporter)
VENV="${VENV:-.venv}"
CACHE="${DIAG_CACHE:-$HOME/.cache/diagnosis-operator}"
log() { echo "[install-deps] $*" >&2; }

# --venv-only: the virtualenv alone (make demo, make unit): Python and pip, nothing else.
VENV_ONLY=0
[ "${1:-}" = "--venv-only" ] && VENV_ONLY=1

missing=()
[ "$VENV_ONLY" -eq 1 ] && APT_PACKAGES=()
for pkg in ${APT_PACKAGES[@]+"${APT_PACKAGES[@]}"}; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    # Debian starts these services on install; the tests start their own on loopback.
    for svc in prometheus mariadb redis-server nginx prometheus-alertmanager \
               prometheus-mysqld-exporter prometheus-redis-exporter prometheus-nginx-exporter; do
        $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
    done
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    python3 -m venv "$VENV"
fi
stamp="$VENV/.deps-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    log "pip install -e .[dev]"
    "$VENV/bin/pip" install -q --upgrade pip >&2
    "$VENV/bin/pip" install -q -e ".[dev]" >&2
    touch "$stamp"
fi
if [ "$VENV_ONLY" -eq 1 ]; then
    log "virtualenv ready"
    exit 0
fi

log "control plane, kubectl and helm (cached in $CACHE/bin)"
bash tests/controlplane/build.sh all

if [ -f tests/grammar/package.json ]; then
    if [ ! -d tests/grammar/node_modules ]; then
        log "npm ci (LogQL grammar)"
        (cd tests/grammar && npm ci --no-audit --no-fund --silent >&2)
    fi
fi
log "ready"
