#!/usr/bin/env bash
# Makes sure the programs named as arguments are on PATH (`command` or `command=debian-package`), e.g.
# `ensure-tools.sh git '/usr/lib/postgresql/*/bin/initdb=postgresql'`. Installs missing ones with apt-get when it can (root or
# password-less sudo); otherwise says what to install and fails.
set -euo pipefail

missing=()
for wanted in "$@"; do
  name=${wanted%%=*}
  if [[ $name == */* ]]; then
    compgen -G "$name" >/dev/null || missing+=("${wanted#*=}") # a path (glob) to a program off PATH
  else
    command -v "$name" >/dev/null 2>&1 || missing+=("${wanted#*=}")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
  else
    echo "patrol: missing ${missing[*]}; install them (apt-get install ${missing[*]}) and try again" >&2
    exit 1
  fi
  echo "patrol: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null; }
  exit 0
fi
echo "patrol: missing ${missing[*]}; install them with your package manager and try again" >&2
exit 1
