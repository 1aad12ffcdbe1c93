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
    # Reinstall only when the extras, the packaging files or the checkout (the editable install's target) changed.
    local stamp="$VENV/.installed-$(echo "$spec" | tr -c 'a-z0-9' '_')"
    local key
    key="$( (pwd; cat pyproject.toml setup.py) | sha256sum | cut -c1-32)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$key" ]; then
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec"
        echo "$key" > "$stamp"
    fi
}
