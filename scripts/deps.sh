#!/bin/sh
# Installs the Debian packages the project needs, once; a no-op when they are all present.
# lua-ldoc builds the API reference (make doc); tmux gives the progress spec a narrow terminal; lua-luv and
# lua-cqueues are the host loops the embedding specs and examples run in.
set -eu
PKGS="make gcc pkg-config lua5.4 liblua5.4-dev lua-cjson lua-busted lua-check luarocks
      libcurl4-openssl-dev libssl-dev libmicrohttpd-dev zlib1g-dev valgrind curl openssl clang-format
      clang libclang-rt-14-dev lua-ldoc tmux nghttp2-proxy lua-luv lua-cqueues"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node and npm run the official Graph SDK spec; a machine may have them from elsewhere than Debian
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
