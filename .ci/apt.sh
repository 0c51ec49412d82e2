# Sourced by .ci/deps/*.sh. `apt_get ARGS…` runs apt-get non-interactively, waits up to ten
# minutes for the dpkg/apt locks (a concurrent apt run on the machine must not fail CI), and
# uses `sudo -n` when not root (GitHub runners).
apt_get() {
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "apt-get needs root: run .ci/run as root or with passwordless sudo" >&2
      return 1
    fi
    sudo=(sudo -n)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=600 "$@"
}
