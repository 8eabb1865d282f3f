#!/bin/sh
# nostrp2p-run — starts `nostrp2p server` with the settings from one config file.
#
# Used as the termux-services run script (Termux package), by the systemd unit (Pi image), and
# by hand. The config file is read as plain `key=value` lines, never sourced, so a typo cannot
# run code; CRLF line endings (a file edited on Windows) are fine.
#
# Usage: nostrp2p-run [CONFIG]
#   CONFIG: default $NOSTRP2P_CONFIG, else $PREFIX/etc/nostrp2p/nostrp2p.conf (Termux),
#           else /etc/nostrp2p/nostrp2p.conf
# Env:  NOSTRP2P_BIN           the server binary (default: nostrp2p next to this script, or on PATH)
#       NOSTRP2P_DRY_RUN=1     print the command instead of running it (tests)
#       NOSTRP2P_UNCONFIGURED_SLEEP  seconds to wait before exiting when the owner is not set, so
#                              a supervisor that restarts at once (runit) does not spin (default 0)
# Exit 78 (EX_CONFIG) when the config is missing or has no owner.
set -eu

conf=${1:-${NOSTRP2P_CONFIG:-}}
if [ -z "$conf" ]; then
  if [ -n "${PREFIX:-}" ] && [ -e "$PREFIX/etc/nostrp2p/nostrp2p.conf" ]; then
    conf=$PREFIX/etc/nostrp2p/nostrp2p.conf
  else
    conf=/etc/nostrp2p/nostrp2p.conf
  fi
fi

unconfigured() {
  echo "nostrp2p-run: $1" >&2
  # A generated config (the Pi image writes it from nostrp2p.txt at every boot) names its source.
  src=$(sed -n '1s/^# Generated from \([^ ]*\) at every boot.*/\1/p' "$conf" 2>/dev/null || true)
  if [ -n "$src" ]; then
    echo "nostrp2p-run: $conf is generated: edit $src (set owner=npub1...) and reboot" >&2
  else
    echo "nostrp2p-run: edit $conf (set owner=npub1...) and restart the service" >&2
  fi
  sleep "${NOSTRP2P_UNCONFIGURED_SLEEP:-0}"
  exit 78
}

[ -r "$conf" ] || unconfigured "cannot read config file $conf"

owner= listen=0.0.0.0:20000 bootstrap= data_dir= writable=true store_mib= debug=false extra_args=
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  line=$(printf '%s' "$line" | tr -d '\r')
  case $line in '' | '#'* | ';'*) continue ;; esac
  case $line in *=*) ;; *) echo "nostrp2p-run: $conf:$lineno: ignoring line without '=': $line" >&2; continue ;; esac
  key=$(printf '%s' "${line%%=*}" | tr -d ' \t')
  value=$(printf '%s' "${line#*=}" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//; s/^"\(.*\)"$/\1/')
  case $key in
    owner) owner=$value ;;
    listen) listen=$value ;;
    bootstrap) bootstrap=$value ;;
    data_dir) data_dir=$value ;;
    writable) writable=$value ;;
    store_mib) store_mib=$value ;;
    debug) debug=$value ;;
    extra_args) extra_args=$value ;;
    # Keys of the Pi's boot-partition file that the firstboot unit handles; not ours.
    hostname | wifi_* | ssh_* | tailscale_*) ;;
    *) echo "nostrp2p-run: $conf:$lineno: unknown key '$key' ignored" >&2 ;;
  esac
done <"$conf"

case $owner in
  '' | npub1REPLACE* | *REPLACE*) unconfigured "no owner set in $conf" ;;
esac

bin=${NOSTRP2P_BIN:-}
if [ -z "$bin" ]; then
  here=$(dirname "$0")
  if [ -x "$here/nostrp2p" ]; then bin=$here/nostrp2p; else bin=nostrp2p; fi
fi

set -- "$bin" server -p "$owner" -l "$listen"
[ -n "$bootstrap" ] && set -- "$@" -b "$bootstrap"
[ -n "$data_dir" ] && set -- "$@" --data-dir "$data_dir"
case $writable in false | no | 0) set -- "$@" -w=false ;; esac
[ -n "$store_mib" ] && set -- "$@" --store-mib "$store_mib"
case $debug in true | yes | 1) set -- "$@" -d ;; esac
# shellcheck disable=SC2086 # extra_args is split on spaces on purpose
[ -n "$extra_args" ] && set -- "$@" $extra_args

echo "nostrp2p-run: starting: $* (config $conf)" >&2
if [ "${NOSTRP2P_DRY_RUN:-0}" = 1 ]; then
  printf '%s\n' "$*"
  exit 0
fi
exec "$@"
