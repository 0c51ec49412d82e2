#!/bin/sh
# oauth-mux installer for release @@VERSION@@ (rendered by oauth-mux-packaging; do not edit).
#
#   curl -fsSL @@BASE_URL@@/install.sh | sh
#   curl -fsSL @@BASE_URL@@/install.sh | sh -s -- --help
#
# Nothing runs until the last line (`main "$@"`): a download cut short runs nothing.
set -eu

OMUX_RENDERED_VERSION='@@VERSION@@'
OMUX_PUBKEY='@@PUBKEY@@'
OMUX_KEY_ID='@@KEY_ID@@'
OMUX_RECEIPT_NAME='@@RECEIPT@@'

say() { printf 'oauth-mux install: %s\n' "$*" >&2; }
die() { printf 'oauth-mux install: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'EOF'
oauth-mux installer: downloads the release for this machine, verifies it, installs it.

Usage:
  curl -fsSL <release>/install.sh | sh
  curl -fsSL <release>/install.sh | sh -s -- [flags]
  sh install.sh --archive oauth-mux-<target>.tar.gz --sums SHA256SUMS   (offline)

Flags:
  --archive FILE     install this archive instead of downloading (needs --sums)
  --sums FILE        its SHA256SUMS (SHA256SUMS.minisig beside it, or --signature)
  --signature FILE   the SHA256SUMS.minisig for --sums
  --sudo             use sudo when the install directory is not writable
  --dry-run          print the chosen target, version and URLs; change nothing
  -h, --help         this text

Environment (only OMUX_ variables are read):
  OMUX_VERSION            release to install (default: the release this script came from)
  OMUX_INSTALL_DIR        where the binary goes (default: ~/.local/bin)
  OMUX_REPO               GitHub repository owner/name to download from
  OMUX_RELEASE_BASE_URL   the directory URL holding the release's files (a mirror);
                          https only (plain http only for 127.0.0.1/localhost)
  OMUX_USE_SUDO=1         same as --sudo
  OMUX_INSECURE_SKIP_SIGNATURE=1
                          install even when SHA256SUMS.minisig is missing or cannot be
                          checked (NOT recommended; a bad signature is always refused)

Trust: SHA256SUMS must carry a valid minisign signature from the oauth-mux release key
embedded in this script, checked with `minisign` or OpenSSL 3; its trusted comment must
name SHA256SUMS and the version. The archive must match its exact line in SHA256SUMS
(and the hash embedded here, for this script's own release), and the unpacked binary
must run and print its version. Any failure installs nothing. A receipt
(oauth-mux.receipt.json) is written next to the binary for `oauth-mux update`.
EOF
}

minisign_help() { # OS -> the exact commands that install a verifier
  here=''
  case "$1" in
    macos) here='brew install minisign' ;;
    windows) here='winget install jedisct1.minisign' ;;
    *)
      if command -v apt-get >/dev/null 2>&1; then here='sudo apt-get install minisign'
      elif command -v dnf >/dev/null 2>&1; then here='sudo dnf install minisign'
      elif command -v apk >/dev/null 2>&1; then here='sudo apk add minisign'
      fi ;;
  esac
  [ -n "$here" ] && printf '  on this machine:  %s\n' "$here"
  printf '%s\n' \
    '  Debian/Ubuntu:    sudo apt-get install minisign' \
    '  Fedora/RHEL:      sudo dnf install minisign   (RHEL: from EPEL)' \
    '  Alpine:           sudo apk add minisign' \
    '  macOS:            brew install minisign' \
    '  Windows:          winget install jedisct1.minisign' \
    '  (OpenSSL 3 also works; the macOS /usr/bin/openssl is LibreSSL and does not)'
}

# ---- platform ---------------------------------------------------------------------------
detect_os() {
  case "$(uname -s)" in
    Linux) echo linux ;;
    Darwin) echo macos ;;
    MINGW*|MSYS*|CYGWIN*|Windows_NT) echo windows ;;
    *) echo "unsupported:$(uname -s)" ;;
  esac
}

detect_arch() { # OS
  m=$(uname -m)
  case "$m" in
    x86_64|amd64) a=x86_64 ;;
    aarch64|arm64|armv8*) a=aarch64 ;;
    *) echo "unsupported:$m"; return 0 ;;
  esac
  if [ "$1" = macos ] && [ "$a" = x86_64 ]; then
    # A shell under Rosetta 2 reports x86_64 on Apple Silicon: ask the kernel.
    if [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ] ||
       [ "$(sysctl -n hw.optional.arm64 2>/dev/null || true)" = 1 ]; then
      a=aarch64
    fi
  fi
  if [ "$1" = linux ] && command -v getconf >/dev/null 2>&1 && [ "$(getconf LONG_BIT 2>/dev/null || echo 64)" = 32 ]; then
    echo "unsupported:32-bit-userland"; return 0
  fi
  echo "$a"
}

detect_libc() {
  if [ -e /lib/ld-musl-x86_64.so.1 ] || [ -e /lib/ld-musl-aarch64.so.1 ] ||
     { command -v ldd >/dev/null 2>&1 && ldd --version 2>&1 | grep -qi musl; }; then
    echo musl
  else
    echo glibc
  fi
}

select_target() { # OS ARCH -> sets triple archive exe embedded_sha
  case "$1-$2" in
@@TARGET_CASES@@
    *) die "no release build for $1-$2" ;;
  esac
}

# ---- URLs and downloads -------------------------------------------------------------------
url_kind() { # URL -> https | loopback | file; fails for anything else
  case "$1" in
    https://*) echo https; return 0 ;;
    file://*) echo file; return 0 ;;
    http://*) ;;
    *) return 1 ;;
  esac
  hostport=${1#http://}
  hostport=${hostport%%/*}
  case "$hostport" in *@*) return 1 ;; esac
  case "$hostport" in
    '[::1]'|'[::1]:'*) echo loopback; return 0 ;;
  esac
  host=${hostport%%:*}
  case "$host" in
    localhost) echo loopback ;;
    127.*) case "$host" in *[!0-9.]*) return 1 ;; *) echo loopback ;; esac ;;
    *) return 1 ;;
  esac
}

origin_of() { # URL -> scheme://host[:port]
  scheme=${1%%://*}
  rest=${1#*://}
  printf '%s://%s' "$scheme" "${rest%%/*}"
}

download() { # URL DEST -> 0 ok, 1 failed
  url=$1
  kind=$(url_kind "$url") || die "refusing $url: downloads are https only (plain http only for 127.0.0.1/localhost)"
  if [ "$kind" = file ]; then
    cp "${url#file://}" "$2" 2>/dev/null
    return
  fi
  if command -v curl >/dev/null 2>&1 && ! command -v curl | grep -q /snap/; then
    if [ "$kind" = https ]; then
      curl --proto '=https' --proto-redir '=https' -fsSL --retry 2 -o "$2" "$url"
    else
      curl --proto '=http,https' --proto-redir '=https' -fsSL --retry 2 -o "$2" "$url"
    fi
    return
  fi
  command -v wget >/dev/null 2>&1 || die "neither curl nor wget is installed; install one, or use --archive/--sums"
  # wget follows redirects to plain http even with --https-only; follow them here instead,
  # so every hop meets the same rule.
  hops=0
  while :; do
    if headers=$(wget -q -S --max-redirect=0 -O "$2" "$url" 2>&1); then
      return 0
    fi
    location=$(printf '%s\n' "$headers" | sed -n 's/^ *[Ll]ocation: *//p' | tail -n 1 | tr -d '\r')
    [ -n "$location" ] || return 1
    case "$location" in
      /*) location="$(origin_of "$url")$location" ;;
      http://*|https://*) ;;
      *) return 1 ;;
    esac
    case "$(url_kind "$location" || echo refused)" in
      https) ;;
      loopback) [ "$kind" = loopback ] || die "refusing the redirect to $location (not https)" ;;
      *) die "refusing the redirect to $location (not https)" ;;
    esac
    hops=$((hops + 1))
    [ "$hops" -le 5 ] || return 1
    url=$location
  done
}

# ---- signature of SHA256SUMS -------------------------------------------------------------
b64d() { openssl base64 -d -A; }

verify_with_openssl() { # FILE SIG -> 0 ok, 1 bad, 2 cannot verify
  command -v openssl >/dev/null 2>&1 || return 2
  case "$(openssl version 2>/dev/null)" in "OpenSSL "[3-9]*) ;; *) return 2 ;; esac
  v=$work/sigcheck
  mkdir -p "$v"
  printf '%s' "$OMUX_PUBKEY" | b64d >"$v/pk" 2>/dev/null || return 1
  sed -n 2p "$2" | tr -d '\r' | b64d >"$v/sig" 2>/dev/null || return 1
  sed -n 4p "$2" | tr -d '\r' | b64d >"$v/gsig" 2>/dev/null || return 1
  tc=$(sed -n 3p "$2" | tr -d '\r')
  case "$tc" in "trusted comment: "*) tc=${tc#trusted comment: } ;; *) return 1 ;; esac
  [ "$(wc -c <"$v/pk" | tr -d ' ')" = 42 ] && [ "$(wc -c <"$v/sig" | tr -d ' ')" = 74 ] &&
    [ "$(wc -c <"$v/gsig" | tr -d ' ')" = 64 ] || return 1
  # Key ids (bytes 2..10) must match.
  [ "$(dd if="$v/pk" bs=1 skip=2 count=8 2>/dev/null | od -An -tx1 | tr -d ' \n')" = \
    "$(dd if="$v/sig" bs=1 skip=2 count=8 2>/dev/null | od -An -tx1 | tr -d ' \n')" ] || return 1
  # Ed25519 SubjectPublicKeyInfo: fixed 12-byte DER prefix, then the 32 key bytes.
  printf '\060\052\060\005\006\003\053\145\160\003\041\000' >"$v/pk.der"
  dd if="$v/pk" bs=1 skip=10 count=32 2>/dev/null >>"$v/pk.der"
  dd if="$v/sig" bs=1 skip=10 count=64 2>/dev/null >"$v/sig.raw"
  case "$(dd if="$v/sig" bs=1 count=2 2>/dev/null)" in
    ED) openssl dgst -blake2b512 -binary "$1" >"$v/msg" 2>/dev/null || return 2 ;;
    *) return 1 ;; # releases are signed prehashed; the legacy mode is refused
  esac
  openssl pkeyutl -verify -pubin -inkey "$v/pk.der" -keyform DER -rawin \
    -in "$v/msg" -sigfile "$v/sig.raw" >/dev/null 2>&1 || return 1
  { cat "$v/sig.raw"; printf '%s' "$tc"; } >"$v/gmsg"
  openssl pkeyutl -verify -pubin -inkey "$v/pk.der" -keyform DER -rawin \
    -in "$v/gmsg" -sigfile "$v/gsig" >/dev/null 2>&1 || return 1
  trusted_comment=$tc
  return 0
}

verify_with_minisign() { # FILE SIG -> 0 ok, 1 bad, 2 cannot verify
  command -v minisign >/dev/null 2>&1 || return 2
  out=$(minisign -V -Q -P "$OMUX_PUBKEY" -m "$1" -x "$2" 2>/dev/null) || return 1
  trusted_comment=$out
  return 0
}

insecure_warning() { # WHAT
  say "################################################################################"
  say "WARNING: $1"
  say "OMUX_INSECURE_SKIP_SIGNATURE=1 is set, so the release is installed WITHOUT a"
  say "signature check: only its SHA-256 against SHA256SUMS, which whoever can change"
  say "the download can change too. Unset it and install minisign to verify releases."
  say "################################################################################"
}

check_signature() { # OS -> sets signature_state
  signature_state=''
  trusted_comment=''
  skip=${OMUX_INSECURE_SKIP_SIGNATURE:-0}
  if [ ! -s "$work/SHA256SUMS.minisig" ]; then
    if [ "$skip" = 1 ]; then
      insecure_warning "the release has no SHA256SUMS.minisig"
      signature_state=skipped
      return 0
    fi
    die "SHA256SUMS.minisig is missing (or could not be downloaded): refusing to install an unsigned release. Set OMUX_INSECURE_SKIP_SIGNATURE=1 only if you accept an unverified install."
  fi
  rc=0
  verify_with_minisign "$work/SHA256SUMS" "$work/SHA256SUMS.minisig" || rc=$?
  if [ "$rc" = 2 ]; then
    rc=0
    verify_with_openssl "$work/SHA256SUMS" "$work/SHA256SUMS.minisig" || rc=$?
  fi
  case "$rc" in
    0) ;;
    1) die "SHA256SUMS.minisig does not verify with the oauth-mux release key $OMUX_KEY_ID: refusing to install" ;;
    *)
      if [ "$skip" = 1 ]; then
        insecure_warning "neither minisign nor OpenSSL 3 is available to check SHA256SUMS.minisig"
        signature_state=skipped
        return 0
      fi
      say "error: cannot check SHA256SUMS.minisig: neither minisign nor OpenSSL 3 is installed."
      say "Install minisign, then run this installer again:"
      minisign_help "$1" >&2
      die "refusing to install a release whose signature cannot be checked"
      ;;
  esac
  case "	$trusted_comment	" in *"	file:SHA256SUMS	"*) ;; *) die "the signature is for another file (trusted comment: $trusted_comment)" ;; esac
  case "	$trusted_comment	" in *"	version:$version	"*) ;; *) die "the signature is for another version than $version (trusted comment: $trusted_comment)" ;; esac
  signature_state=verified
  say "signature: SHA256SUMS verified with the release key $OMUX_KEY_ID"
}

# ---- checksums -------------------------------------------------------------------------------
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else return 1
  fi
}

check_archive() {
  expected=$(awk -v n="$archive" '$2 == n || $2 == "*" n { print $1 }' "$work/SHA256SUMS")
  count=$(printf '%s\n' "$expected" | grep -c . || true)
  [ "$count" = 1 ] || die "SHA256SUMS has $count entries named exactly $archive (need exactly 1): refusing to install"
  actual=$(sha256_of "$work/$archive") || die "no SHA-256 tool found (need sha256sum, shasum or openssl): refusing to install unverified"
  [ -n "$actual" ] || die "SHA-256 of $archive could not be computed: refusing to install"
  [ "$actual" = "$expected" ] || die "SHA-256 mismatch for $archive (SHA256SUMS says $expected, file is $actual): refusing to install"
  if [ -n "$embedded_sha" ] && [ "$actual" != "$embedded_sha" ]; then
    die "SHA-256 of $archive differs from the one embedded in this installer: refusing to install"
  fi
  say "checksum: $archive matches SHA256SUMS"
}

# ---- unpack, test, install ------------------------------------------------------------------
unpack_and_test() {
  mkdir "$work/x"
  case "$archive" in
    *.zip) command -v unzip >/dev/null 2>&1 || die "unzip is needed to unpack $archive"; unzip -q "$work/$archive" -d "$work/x" ;;
    *) tar -xzf "$work/$archive" -C "$work/x" ;;
  esac || die "cannot unpack $archive"
  bin="$work/x/oauth-mux-$triple/$exe"
  [ -f "$bin" ] || die "$archive does not contain oauth-mux-$triple/$exe"
  chmod 755 "$bin"
  got=$("$bin" version 2>/dev/null) || die "the unpacked binary does not run on this machine ($triple)"
  [ "$got" = "oauth-mux $version" ] || die "the unpacked binary reports '$got', expected 'oauth-mux $version'"
  bin_sha=$(sha256_of "$bin")
}

install_binary() {
  if [ ! -d "$install_dir" ]; then
    if mkdir -p "$install_dir" 2>/dev/null; then created_dir=$install_dir
    elif [ "$use_sudo" = 1 ]; then sudo mkdir -p "$install_dir" || die "sudo mkdir -p $install_dir failed"
    else die "cannot create $install_dir (set OMUX_INSTALL_DIR, or pass --sudo to use sudo)"
    fi
  fi
  if [ ! -w "$install_dir" ]; then
    [ "$use_sudo" = 1 ] || die "$install_dir is not writable (set OMUX_INSTALL_DIR, or pass --sudo to use sudo)"
    sudo_cmd=sudo
  fi
  staged="$install_dir/.$exe.new.$$"
  $sudo_cmd cp "$bin" "$staged" || die "cannot write $staged"
  $sudo_cmd chmod 755 "$staged"
  $sudo_cmd mv -f "$staged" "$install_dir/$exe" || die "cannot move the new binary into $install_dir"
  staged=''
  created_dir=''
}

json_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }

write_receipt() {
  installed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  receipt_tmp="$work/receipt.json"
  cat >"$receipt_tmp" <<JSON
{
  "schema": 1,
  "name": "oauth-mux",
  "version": "$(json_escape "$version")",
  "target": "$triple",
  "archive": "$(json_escape "$archive")",
  "sha256": "$actual",
  "binary_sha256": "$bin_sha",
  "source": "$(json_escape "$source_desc")",
  "base_url": "$(json_escape "$base_url")",
  "key_id": "$OMUX_KEY_ID",
  "signature": "$signature_state",
  "installed_at": "$installed_at",
  "install_dir": "$(json_escape "$install_dir")",
  "method": "install.sh"
}
JSON
  staged="$install_dir/.$OMUX_RECEIPT_NAME.new.$$"
  $sudo_cmd cp "$receipt_tmp" "$staged" && $sudo_cmd mv -f "$staged" "$install_dir/$OMUX_RECEIPT_NAME" ||
    say "warning: could not write the install receipt $install_dir/$OMUX_RECEIPT_NAME (oauth-mux update needs it)"
  staged=''
}

cleanup() {
  if [ -n "$work" ]; then rm -rf "$work"; fi
  if [ -n "$staged" ]; then $sudo_cmd rm -f "$staged" 2>/dev/null || true; fi
  if [ -n "$created_dir" ]; then rmdir "$created_dir" 2>/dev/null || true; fi
}

# ---- main ------------------------------------------------------------------------------------
main() {
  # Every global starts empty: nothing from the caller's environment leaks in.
  archive_arg='' sums_arg='' sig_arg='' dry_run=0 work='' staged='' created_dir=''
  sudo_cmd='' signature_state='' trusted_comment='' source_desc='' bin='' bin_sha=''
  actual='' expected=''
  use_sudo=${OMUX_USE_SUDO:-0}
  while [ $# -gt 0 ]; do
    case "$1" in
      --archive) [ $# -ge 2 ] || die "--archive needs a file"; archive_arg=$2; shift 2 ;;
      --sums) [ $# -ge 2 ] || die "--sums needs a file"; sums_arg=$2; shift 2 ;;
      --signature) [ $# -ge 2 ] || die "--signature needs a file"; sig_arg=$2; shift 2 ;;
      --sudo) use_sudo=1; shift ;;
      --dry-run) dry_run=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown argument: $1 (see --help)" ;;
    esac
  done
  if [ -n "$archive_arg" ] && [ -z "$sums_arg" ]; then
    die "--archive needs --sums SHA256SUMS (the archive is verified before install)"
  fi
  # Settings come only from OMUX_ variables; say so when a bare one is set.
  [ -n "${VERSION:-}" ] && [ -z "${OMUX_VERSION:-}" ] && say "note: ignoring VERSION=$VERSION (set OMUX_VERSION to choose a release)"
  [ -n "${INSTALL_DIR:-}" ] && [ -z "${OMUX_INSTALL_DIR:-}" ] && say "note: ignoring INSTALL_DIR=$INSTALL_DIR (set OMUX_INSTALL_DIR)"

  version=${OMUX_VERSION:-$OMUX_RENDERED_VERSION}
  version=${version#v}
  case "$version" in *[!0-9A-Za-z.+-]*|'') die "OMUX_VERSION=$version is not a version" ;; esac
  if [ -n "${OMUX_REPO:-}" ]; then
    case "$OMUX_REPO" in
      */*/*|*[!A-Za-z0-9._/-]*|/*|*/|*..*) die "OMUX_REPO=$OMUX_REPO is not a GitHub owner/name" ;;
      */*) ;;
      *) die "OMUX_REPO=$OMUX_REPO is not a GitHub owner/name" ;;
    esac
  fi
  if [ -n "${OMUX_RELEASE_BASE_URL:-}" ]; then
    base_url=$OMUX_RELEASE_BASE_URL
  elif [ -n "${OMUX_REPO:-}" ]; then
    base_url="https://github.com/$OMUX_REPO/releases/download/v$version"
  else
    base_url="@@BASE_URL_TEMPLATE@@"
  fi
  base_url=${base_url%/}
  url_kind "$base_url" >/dev/null ||
    die "refusing OMUX_RELEASE_BASE_URL=$base_url: releases are downloaded over https only (plain http only for 127.0.0.1/localhost)"
  install_dir=${OMUX_INSTALL_DIR:-${HOME:?HOME is not set; set OMUX_INSTALL_DIR}/.local/bin}

  os=$(detect_os)
  case "$os" in unsupported:*) die "unsupported operating system ${os#unsupported:} (supported: Linux, macOS, Windows)" ;; esac
  arch=$(detect_arch "$os")
  case "$arch" in unsupported:*) die "unsupported machine ${arch#unsupported:} (supported: x86_64, aarch64)" ;; esac
  libc=''
  [ "$os" = linux ] && libc=$(detect_libc)
  triple='' archive='' exe='' embedded_sha=''
  select_target "$os" "$arch"
  [ "$version" = "$OMUX_RENDERED_VERSION" ] || embedded_sha=''
  if [ -n "$libc" ]; then
    say "platform: $os $arch ($libc; the static musl build runs on both) -> $triple"
  else
    say "platform: $os $arch -> $triple"
  fi
  if [ "$dry_run" = 1 ]; then
    printf 'target=%s\narchive=%s\nversion=%s\nbase_url=%s\ninstall_dir=%s\nkey_id=%s\n' \
      "$triple" "$archive" "$version" "$base_url" "$install_dir" "$OMUX_KEY_ID"
    exit 0
  fi

  umask 022
  work=$(mktemp -d "${TMPDIR:-/tmp}/oauth-mux-install.XXXXXX") || die "cannot create a temporary directory"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  if [ -n "$archive_arg" ]; then
    [ -f "$archive_arg" ] || die "--archive $archive_arg: no such file"
    [ -f "$sums_arg" ] || die "--sums $sums_arg: no such file"
    archive=$(basename "$archive_arg")
    cp "$archive_arg" "$work/$archive"
    cp "$sums_arg" "$work/SHA256SUMS"
    if [ -z "$sig_arg" ] && [ -f "$(dirname "$sums_arg")/SHA256SUMS.minisig" ]; then
      sig_arg="$(dirname "$sums_arg")/SHA256SUMS.minisig"
    fi
    if [ -n "$sig_arg" ]; then cp "$sig_arg" "$work/SHA256SUMS.minisig" || die "--signature $sig_arg: cannot read"; fi
    source_desc="file:$archive_arg"
    base_url="file:$(dirname "$archive_arg")"
  else
    say "downloading $base_url/$archive"
    download "$base_url/SHA256SUMS" "$work/SHA256SUMS" || die "download failed: $base_url/SHA256SUMS"
    if ! download "$base_url/SHA256SUMS.minisig" "$work/SHA256SUMS.minisig" 2>/dev/null; then
      rm -f "$work/SHA256SUMS.minisig"
    fi
    check_signature "$os"
    download "$base_url/$archive" "$work/$archive" || die "download failed: $base_url/$archive"
    source_desc="$base_url/$archive"
  fi
  [ -n "$signature_state" ] || check_signature "$os"
  check_archive
  unpack_and_test
  install_binary
  write_receipt

  say "installed oauth-mux $version to $install_dir/$exe"
  case ":${PATH:-}:" in
    *":$install_dir:"*) ;;
    *) say "note: $install_dir is not on your PATH. Add it, e.g.:"
       say "  sh/bash/zsh: export PATH=\"$install_dir:\$PATH\"   (in ~/.profile, ~/.bashrc or ~/.zshrc)"
       say "  fish:        fish_add_path $install_dir" ;;
  esac
}

main "$@"
