# Sourced by .ci/run and the justfile: puts the locally installed tools on PATH.
_omux_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OMUX_TOOLS="$_omux_root/.ci/.tools"
export PATH="$OMUX_TOOLS/venv/bin:$OMUX_TOOLS/npm/bin:$OMUX_TOOLS/cargo/bin:$HOME/.cargo/bin:$PATH"
unset _omux_root
