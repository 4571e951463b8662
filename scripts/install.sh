#!/usr/bin/env bash
# Installs what is missing and nothing else: Debian packages (as root), the
# virtualenv and the Python packages pinned in requirements.lock, and the compiled
# translations. Idempotent; takes about a second when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

# WeasyPrint needs harfbuzz-subset (without it a CJK page takes ~10 s, not ~0.1 s)
# and a CJK font (without it every Chinese glyph is an empty box); the browser
# tests need Debian's Chromium; pdffonts (poppler-utils) checks embedded fonts;
# msgfmt (gettext) compiles the translations; certutil (libnss3-tools) lets
# the tests trust the demo CA in an NSS database for pdfsig's signature check.
DEB_PACKAGES="libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk chromium poppler-utils gettext libnss3-tools"

missing=""
for pkg in $DEB_PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "Installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "Missing Debian packages. Run this once, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python >= 3.11 is required; found: $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv"
  "$PYTHON" -m venv .venv
fi

# Install exactly what requirements.lock pins, each file checked against its
# hash (`make lock` refreshes the lock from pyproject.toml's ranges). Reinstall
# only when the lock changed since the last successful install.
want=$(sha256sum requirements.lock | cut -d' ' -f1)
have=$(cat .venv/.install-stamp 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  echo "Installing Python packages from requirements.lock"
  # uv installs the lock in ~15 s where pip takes ~100 s (a fresh CI clone
  # makes a fresh venv every run). uv itself comes first, by pip, pinned and
  # hash-checked from its own stanza of the lock.
  if [ ! -x .venv/bin/uv ]; then
    uv_req=$(mktemp)
    awk '/^uv==/{on=1} on{print} on && !/\\$/{exit}' requirements.lock > "$uv_req"
    .venv/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r "$uv_req"
    rm -f "$uv_req"
  fi
  .venv/bin/uv pip install -q --python .venv/bin/python --require-hashes -r requirements.lock
  echo "$want" > .venv/.install-stamp
fi

# The browser tests inject axe-core (GB/T 37668-2019 checks), pinned in
# package-lock.json. Reinstall only when node_modules is missing or the lock changed.
if command -v npm >/dev/null 2>&1; then
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  have=$(cat node_modules/.install-stamp 2>/dev/null || true)
  if [ ! -d node_modules ] || [ "$want" != "$have" ]; then
    echo "Installing npm packages from package-lock.json"
    npm ci --no-audit --no-fund --silent
    echo "$want" > node_modules/.install-stamp
  fi
else
  echo "npm not found: the browser tests need Node.js 20 and npm for axe-core" >&2
fi

# Compile translations when a catalogue is newer than its compiled file.
for po in */locale/*/LC_MESSAGES/django.po; do
  [ -e "$po" ] || continue
  mo="${po%.po}.mo"
  if [ ! -e "$mo" ] || [ "$po" -nt "$mo" ]; then
    msgfmt --check-format -o "$mo" "$po"
  fi
done
