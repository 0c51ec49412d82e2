#!/bin/sh
# oauth-mux installer for release @@VERSION@@ (rendered by oauth-mux-packaging; do not edit).
#
#   curl -fsSL @@BASE_URL@@/install.sh | sh
#   sh install.sh --archive ./oauth-mux-<target>.tar.gz --sums ./SHA256SUMS   # offline
#
# Environment:
#   VERSION                 release to install (default @@VERSION@@)
#   INSTALL_DIR             where the binary goes (default ~/.local/bin)
#   OMUX_RELEASE_BASE_URL   directory URL holding the release files (default: the GitHub release)
#   OMUX_REQUIRE_SIGNATURE  1 = refuse unless SHA256SUMS.minisig verifies with the embedded key
#   OMUX_USE_SUDO           1 = use sudo when INSTALL_DIR is not writable (same as --sudo)
# Flags: --archive FILE --sums FILE [--signature FILE] --sudo --dry-run --help
#
# Trust: the archive must match its exact line in SHA256SUMS (sha256sum, shasum or openssl;
# no tool = refusal). SHA256SUMS must carry a valid minisign signature from the key below when
# SHA256SUMS.minisig exists (verified with `minisign`, or OpenSSL 3). On any mismatch nothing
# is installed. A receipt (@@RECEIPT@@) is written next to the binary.
set -eu

OMUX_RENDERED_VERSION='@@VERSION@@'
OMUX_PUBKEY='@@PUBKEY@@'
OMUX_RECEIPT_NAME='@@RECEIPT@@'

say() { printf 'oauth-mux install: %s\n' "$*" >&2; }
die() { printf 'oauth-mux install: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,20p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//' || true
}

archive_arg=''
sums_arg=''
sig_arg=''
dry_run=0
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

version=${VERSION:-$OMUX_RENDERED_VERSION}
version=${version#v}
base_url=${OMUX_RELEASE_BASE_URL:-@@BASE_URL_TEMPLATE@@}
base_url=${base_url%/}
install_dir=${INSTALL_DIR:-${HOME:?HOME is not set; set INSTALL_DIR}/.local/bin}

# ---- platform detection -------------------------------------------------------------
detect_os() {
  case "$(uname -s)" in
    Linux) echo linux ;;
    Darwin) echo macos ;;
    MINGW*|MSYS*|CYGWIN*|Windows_NT) echo windows ;;
    *) echo "unsupported:$(uname -s)" ;;
  esac
}

detect_arch() {
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

os=$(detect_os)
case "$os" in unsupported:*) die "unsupported operating system ${os#unsupported:} (supported: Linux, macOS, Windows)" ;; esac
arch=$(detect_arch "$os")
case "$arch" in unsupported:*) die "unsupported machine ${arch#unsupported:} (supported: x86_64, aarch64)" ;; esac
libc=''
[ "$os" = linux ] && libc=$(detect_libc)

triple=''
archive=''
exe=''
embedded_sha=''
case "$os-$arch" in
@@TARGET_CASES@@
  *) die "no release build for $os-$arch" ;;
esac
[ "$version" = "$OMUX_RENDERED_VERSION" ] || embedded_sha=''

if [ -n "$libc" ]; then
  say "platform: $os $arch ($libc; the static musl build runs on both) -> $triple"
else
  say "platform: $os $arch -> $triple"
fi
if [ "$dry_run" = 1 ]; then
  printf 'target=%s\narchive=%s\nversion=%s\nbase_url=%s\ninstall_dir=%s\n' \
    "$triple" "$archive" "$version" "$base_url" "$install_dir"
  exit 0
fi

# ---- scratch space, removed on every exit -------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/oauth-mux-install.XXXXXX") || die "cannot create a temporary directory"
staged=''
created_dir=''
cleanup() {
  rm -rf "$work"
  if [ -n "$staged" ]; then $sudo_cmd rm -f "$staged" 2>/dev/null || true; fi
  if [ -n "$created_dir" ]; then rmdir "$created_dir" 2>/dev/null || true; fi
}
sudo_cmd=''
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- download -----------------------------------------------------------------------
download() { # URL DEST -> 0 ok, 1 failed
  case "$1" in
    file://*) cp "${1#file://}" "$2" 2>/dev/null ;;
    *)
      if command -v curl >/dev/null 2>&1 && ! command -v curl | grep -q /snap/; then
        curl --proto '=https,http' -fsSL --retry 2 -o "$2" "$1"
      elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
      else
        die "neither curl nor wget is installed; install one, or use --archive/--sums"
      fi ;;
  esac
}

if [ -n "$archive_arg" ]; then
  [ -f "$archive_arg" ] || die "--archive $archive_arg: no such file"
  [ -f "$sums_arg" ] || die "--sums $sums_arg: no such file"
  archive=$(basename "$archive_arg")
  cp "$archive_arg" "$work/$archive"
  cp "$sums_arg" "$work/SHA256SUMS"
  [ -z "$sig_arg" ] && [ -f "$(dirname "$sums_arg")/SHA256SUMS.minisig" ] && sig_arg="$(dirname "$sums_arg")/SHA256SUMS.minisig"
  if [ -n "$sig_arg" ]; then cp "$sig_arg" "$work/SHA256SUMS.minisig" || die "--signature $sig_arg: cannot read"; fi
  source_desc="file:$archive_arg"
else
  say "downloading $base_url/$archive"
  download "$base_url/SHA256SUMS" "$work/SHA256SUMS" || die "download failed: $base_url/SHA256SUMS"
  download "$base_url/$archive" "$work/$archive" || die "download failed: $base_url/$archive"
  download "$base_url/SHA256SUMS.minisig" "$work/SHA256SUMS.minisig" 2>/dev/null || rm -f "$work/SHA256SUMS.minisig"
  source_desc="$base_url/$archive"
fi

# ---- signature of SHA256SUMS ----------------------------------------------------------
b64d() { openssl base64 -d -A; }

verify_with_openssl() { # file sig -> 0 ok, 1 bad, 2 cannot verify
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
  alg=$(dd if="$v/sig" bs=1 count=2 2>/dev/null)
  case "$alg" in
    ED) openssl dgst -blake2b512 -binary "$1" >"$v/msg" 2>/dev/null || return 2 ;;
    Ed) cp "$1" "$v/msg" ;;
    *) return 1 ;;
  esac
  openssl pkeyutl -verify -pubin -inkey "$v/pk.der" -keyform DER -rawin \
    -in "$v/msg" -sigfile "$v/sig.raw" >/dev/null 2>&1 || return 1
  { cat "$v/sig.raw"; printf '%s' "$tc"; } >"$v/gmsg"
  openssl pkeyutl -verify -pubin -inkey "$v/pk.der" -keyform DER -rawin \
    -in "$v/gmsg" -sigfile "$v/gsig" >/dev/null 2>&1 || return 1
  trusted_comment=$tc
  return 0
}

verify_with_minisign() { # file sig -> 0 ok, 1 bad, 2 cannot verify
  command -v minisign >/dev/null 2>&1 || return 2
  out=$(minisign -V -Q -P "$OMUX_PUBKEY" -m "$1" -x "$2" 2>/dev/null) || return 1
  trusted_comment=$out
  return 0
}

signature_state=absent
trusted_comment=''
if [ -f "$work/SHA256SUMS.minisig" ]; then
  rc=0
  verify_with_minisign "$work/SHA256SUMS" "$work/SHA256SUMS.minisig" || rc=$?
  if [ "$rc" = 2 ]; then
    rc=0
    verify_with_openssl "$work/SHA256SUMS" "$work/SHA256SUMS.minisig" || rc=$?
  fi
  case "$rc" in
    0) signature_state=verified ;;
    1) die "SHA256SUMS.minisig does not verify with the oauth-mux release key: refusing to install" ;;
    *) signature_state=unverifiable ;;
  esac
  if [ "$signature_state" = verified ]; then
    case "	$trusted_comment	" in *"	file:SHA256SUMS	"*) ;; *) die "signature is for another file (trusted comment: $trusted_comment)" ;; esac
    case "	$trusted_comment	" in *"	version:$version	"*) ;; *) die "signature is for another version than $version (trusted comment: $trusted_comment)" ;; esac
  fi
fi
case "$signature_state" in
  verified) say "signature: SHA256SUMS verified with key $(printf '%s' "$OMUX_PUBKEY" | cut -c1-12)…" ;;
  absent)
    [ "${OMUX_REQUIRE_SIGNATURE:-0}" = 1 ] && die "OMUX_REQUIRE_SIGNATURE=1 but the release has no SHA256SUMS.minisig"
    say "warning: release is not signed (no SHA256SUMS.minisig); relying on SHA-256 only" ;;
  unverifiable)
    [ "${OMUX_REQUIRE_SIGNATURE:-0}" = 1 ] && die "OMUX_REQUIRE_SIGNATURE=1 but neither minisign nor OpenSSL 3 is available to verify SHA256SUMS.minisig"
    say "warning: cannot verify SHA256SUMS.minisig (install minisign or OpenSSL 3); relying on SHA-256 only" ;;
esac

# ---- SHA-256 of the archive -----------------------------------------------------------
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  else return 1
  fi
}

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

# ---- unpack and smoke-test --------------------------------------------------------------
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

# ---- atomic install -----------------------------------------------------------------------
if [ ! -d "$install_dir" ]; then
  if mkdir -p "$install_dir" 2>/dev/null; then created_dir=$install_dir
  elif [ "$use_sudo" = 1 ]; then sudo mkdir -p "$install_dir" || die "sudo mkdir -p $install_dir failed"
  else die "cannot create $install_dir (set INSTALL_DIR, or pass --sudo to use sudo)"
  fi
fi
if [ ! -w "$install_dir" ]; then
  [ "$use_sudo" = 1 ] || die "$install_dir is not writable (set INSTALL_DIR, or pass --sudo to use sudo)"
  sudo_cmd=sudo
fi
staged="$install_dir/.$exe.new.$$"
$sudo_cmd cp "$bin" "$staged" || die "cannot write $staged"
$sudo_cmd chmod 755 "$staged"
$sudo_cmd mv -f "$staged" "$install_dir/$exe" || die "cannot move the new binary into $install_dir"
staged=''
created_dir=''

installed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
json_escape() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
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
  "signature": "$signature_state",
  "installed_at": "$installed_at",
  "install_dir": "$(json_escape "$install_dir")",
  "method": "install.sh"
}
JSON
staged="$install_dir/.$OMUX_RECEIPT_NAME.new.$$"
$sudo_cmd cp "$receipt_tmp" "$staged" && $sudo_cmd mv -f "$staged" "$install_dir/$OMUX_RECEIPT_NAME" ||
  say "warning: could not write the install receipt $install_dir/$OMUX_RECEIPT_NAME"
staged=''

say "installed oauth-mux $version to $install_dir/$exe"
case ":${PATH:-}:" in
  *":$install_dir:"*) ;;
  *) say "note: $install_dir is not on your PATH. Add it, e.g.:"
     say "  sh/bash/zsh: export PATH=\"$install_dir:\$PATH\"   (in ~/.profile, ~/.bashrc or ~/.zshrc)"
     say "  fish:        fish_add_path $install_dir" ;;
esac
