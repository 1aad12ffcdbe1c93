# Shared by the entry scripts: create or reuse .venv with Python >= 3.11 and install the project into it.
VENV="${VENV:-.venv}"

ensure_venv() {
    local spec="$1"
    if [ ! -x "$VENV/bin/python" ]; then
        local py
        py="$(command -v python3.11 || command -v python3)"
        "$py" -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is needed"'
        "$py" -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
    fi
    # Reinstall only when the requested extras or pyproject.toml changed since the last install.
    local stamp="$VENV/.installed-$(echo "$spec" | tr -c 'a-z0-9' '_')"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
        touch "$stamp"
    fi
}
