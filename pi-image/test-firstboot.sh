#!/bin/bash
# pi-image/test-firstboot.sh — runs the image's first-boot script (pi-image/files/firstboot) on
# this host, in a scratch root (NOSTRP2P_ROOT) with stand-ins for systemctl, hostname, iw and
# tailscale on PATH, and checks the unit files statically. Seconds, no root, no qemu: the boot
# test (pi-image/boot-test.sh) covers the same paths in the real image. Covers issue 12 items:
#   1  no blocking systemctl call in firstboot; Tailscale only in its own mode/unit, ordered
#      after network-online.target and tailscaled.service; start timeouts on both units
#   3  Wi-Fi is started by the wlan0 device (drop-in + device wants), not by firstboot
#   4  a bad Wi-Fi password is kept, not erased, and the reason is in nostrp2p-status.txt
#   5  authorized_keys is replaced as a whole (a removed key is revoked)
#   6  nostrp2p.service waits for time-sync.target; the wait is bounded; clock saved hourly
#   8  the generated nostrp2p.conf says where the settings live
# Usage: pi-image/test-firstboot.sh      Last line: 'N passed, N failed'.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
F=$HERE/files
NPUB=npub1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmus6gq266
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
expect() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi; }
for c in wpa_passphrase ssh-keygen python3; do
  command -v "$c" >/dev/null || { echo "test-firstboot: missing $c (scripts/install-deps.sh pi)" >&2; exit 1; }
done
# The script must honour NOSTRP2P_ROOT, or it would write this host's /etc and /root.
grep -q 'NOSTRP2P_ROOT' "$F/firstboot" || { echo "test-firstboot: $F/firstboot ignores NOSTRP2P_ROOT; not running it on this host" >&2; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

# Stand-ins: each logs its arguments; tailscale's result is chosen by TS_RESULT.
mkdir -p "$T/bin"
for c in systemctl hostname iw; do
  printf '#!/bin/sh\necho "%s $*" >>"$CALLS"\n' "$c" >"$T/bin/$c"
done
printf '#!/bin/sh\necho "tailscale $*" >>"$CALLS"\n[ "$1" = ip ] && echo 100.64.0.7\nexit "${TS_RESULT:-0}"\n' >"$T/bin/tailscale"
chmod +x "$T/bin"/*
ssh-keygen -q -t ed25519 -N '' -C key-a -f "$T/a" && ssh-keygen -q -t ed25519 -N '' -C key-b -f "$T/b"
KEY_A=$(cat "$T/a.pub") KEY_B=$(cat "$T/b.pub")

# run [MODE]: firstboot on $T/root with settings $T/boot/nostrp2p.txt; output in $T/out.
run() {
  rm -rf "$T/root" && mkdir -p "$T/root/etc" "$T/boot"
  echo nostrp2p >"$T/root/etc/hostname"; printf '127.0.0.1\tlocalhost\n' >"$T/root/etc/hosts"
  [ -f "$T/keep-keys" ] && mkdir -p "$T/root/root/.ssh" && cp "$T/keep-keys" "$T/root/root/.ssh/authorized_keys"
  : >"$T/calls"
  CALLS=$T/calls PATH=$T/bin:$PATH NOSTRP2P_ROOT=$T/root NOSTRP2P_SETTINGS=$T/boot/nostrp2p.txt \
    bash "$F/firstboot" "$@" >"$T/out" 2>&1
}
settings() { # the image's template with KEY=VALUE lines replaced, CRLF as Windows saves it
  cp "$F/nostrp2p.txt" "$T/boot/nostrp2p.txt" 2>/dev/null || { mkdir -p "$T/boot"; cp "$F/nostrp2p.txt" "$T/boot/nostrp2p.txt"; }
  local kv k seen=' '
  for kv in owner=$NPUB "$@"; do
    k=${kv%%=*}
    if [[ $seen != *" $k "* ]] && grep -q "^$k=" "$T/boot/nostrp2p.txt"; then
      seen="$seen$k "
      python3 -c 'import sys;k,v,p=sys.argv[1:];L=open(p).read().split("\n");i=max(j for j,l in enumerate(L) if l.startswith(k+"="));L[i]=k+"="+v;open(p,"w").write("\n".join(L))' "$k" "${kv#*=}" "$T/boot/nostrp2p.txt"
    else
      echo "$kv" >>"$T/boot/nostrp2p.txt"
    fi
  done
  sed -i 's/$/\r/' "$T/boot/nostrp2p.txt"
}
status() { cat "$T/boot/nostrp2p-status.txt" 2>/dev/null; }
WPA=$T/root/etc/wpa_supplicant/wpa_supplicant-wlan0.conf
AK=$T/root/root/.ssh/authorized_keys

# --- server settings (8: where they live) -------------------------------------------------
rm -f "$T/keep-keys"; settings listen=0.0.0.0:20000 hostname=pi-one; run
expect "conf has the owner and says it is generated from nostrp2p.txt" \
  bash -c "grep -qx 'owner=$NPUB' '$T/root/etc/nostrp2p/nostrp2p.conf' && grep -q '^# Generated from .*nostrp2p.txt at every boot; edit that file instead' '$T/root/etc/nostrp2p/nostrp2p.conf'"
expect "status file written next to nostrp2p.txt, no problem" bash -c "grep -q 'server settings applied' '$T/boot/nostrp2p-status.txt' && ! grep -q PROBLEM '$T/boot/nostrp2p-status.txt'"
expect "hostname set" grep -qx pi-one "$T/root/etc/hostname"
settings owner=npub1REPLACE_WITH_YOUR_NPUB; run
expect "placeholder owner: PROBLEM in the status file" grep -q '^PROBLEM: no valid owner' "$T/boot/nostrp2p-status.txt"

# --- Wi-Fi (4) ----------------------------------------------------------------------------
for bad in short7x 'this-password-is-far-too-long-for-wpa-which-allows-63-characters-only'; do
  settings wifi_ssid=Home wifi_password="$bad" wifi_country=DE; run
  n=${#bad}
  expect "Wi-Fi password of $n characters: not erased from nostrp2p.txt" grep -q "^wifi_password=$bad" "$T/boot/nostrp2p.txt"
  expect "Wi-Fi password of $n characters: reason in nostrp2p-status.txt" grep -q "^PROBLEM: Wi-Fi NOT configured for 'Home': wifi_password has $n characters; a WPA password has 8 to 63" "$T/boot/nostrp2p-status.txt"
  expect "Wi-Fi password of $n characters: no 'Wi-Fi configured' claim, no config file" bash -c "! grep -q 'Wi-Fi configured' '$T/out' && [ ! -e '$WPA' ]"
done
ssid='Café "Nord"'
settings wifi_ssid="$ssid" wifi_password='correct horse battery' wifi_country=de; run
want=$(python3 -c 'import hashlib,sys;print(hashlib.pbkdf2_hmac("sha1",sys.argv[2].encode(),sys.argv[1].encode(),4096,32).hex())' "$ssid" 'correct horse battery')
hex=$(printf %s "$ssid" | od -An -tx1 | tr -d ' \n')
expect "Wi-Fi: SSID with quotes stored as hex, PSK = PBKDF2(password, SSID)" bash -c "grep -qx '	ssid=$hex' '$WPA' && grep -qx '	psk=$want' '$WPA' && grep -qx 'country=DE' '$WPA'"
expect "Wi-Fi: password erased once applied, file mode 600" bash -c "grep -q '^wifi_password=.\?$' '$T/boot/nostrp2p.txt' && [ \$(stat -c %a '$WPA') = 600 ] && ! grep -q 'correct horse' '$WPA'"
expect "Wi-Fi: firstboot does not start wpa_supplicant (the wlan0 device does)" bash -c "! grep -q 'systemctl.* start wpa_supplicant\|systemctl enable' '$T/calls'"
# A new SSID without a password (the old one was erased): say the old network is still used.
mkdir -p "$T/root/etc/wpa_supplicant"; cp "$WPA" "$T/wpa.keep"
settings wifi_ssid=Other; rm -rf "$T/root"; mkdir -p "$T/root/etc/wpa_supplicant"; cp "$T/wpa.keep" "$T/root/etc/wpa_supplicant/wpa_supplicant-wlan0.conf"
CALLS=$T/calls PATH=$T/bin:$PATH NOSTRP2P_ROOT=$T/root NOSTRP2P_SETTINGS=$T/boot/nostrp2p.txt bash "$F/firstboot" >"$T/out" 2>&1
expect "Wi-Fi: new SSID without a password is reported" grep -q "PROBLEM: wifi_ssid changed to 'Other' but wifi_password is empty" "$T/boot/nostrp2p-status.txt"
settings wifi_ssid="$ssid"; rm -rf "$T/root"; mkdir -p "$T/root/etc/wpa_supplicant"; cp "$T/wpa.keep" "$T/root/etc/wpa_supplicant/wpa_supplicant-wlan0.conf"
CALLS=$T/calls PATH=$T/bin:$PATH NOSTRP2P_ROOT=$T/root NOSTRP2P_SETTINGS=$T/boot/nostrp2p.txt bash "$F/firstboot" >"$T/out" 2>&1
expect "Wi-Fi: same SSID with the password already erased is fine" bash -c "! grep -q PROBLEM '$T/boot/nostrp2p-status.txt'"
settings wifi_ssid=Home wifi_password=secret123 wifi_country='DE country=XX'; run
expect "Wi-Fi: a bad wifi_country is reported, not written" bash -c "grep -q \"PROBLEM: wifi_country\" '$T/boot/nostrp2p-status.txt' && ! grep -q '^country' '$WPA'"

# --- SSH keys (5) -------------------------------------------------------------------------
rm -f "$T/keep-keys"; settings ssh_authorized_key="$KEY_A"; run
expect "SSH: key A installed, sshd started without waiting" bash -c "grep -qxF '$KEY_A' '$AK' && grep -qx 'systemctl --no-block start ssh.service' '$T/calls'"
cp "$AK" "$T/keep-keys"
settings ssh_authorized_key="$KEY_B"; run
expect "SSH: replacing A by B revokes A" bash -c "grep -qxF '$KEY_B' '$AK' && ! grep -qF '$KEY_A' '$AK' && [ \$(wc -l <'$AK') = 1 ]"
settings ssh_authorized_key="$KEY_A" "ssh_authorized_key=$KEY_B" 'ssh_authorized_key=ssh-ed25519 AAAAnot-a-key x'; run
expect "SSH: two key lines both kept, a broken one reported and dropped" bash -c "[ \$(wc -l <'$AK') = 2 ] && grep -q 'PROBLEM: ssh_authorized_key line 3 is not an OpenSSH public key' '$T/boot/nostrp2p-status.txt'"
settings ssh_authorized_key=; run
expect "SSH: no key: authorized_keys removed, sshd stopped without waiting" bash -c "[ ! -e '$AK' ] && grep -qx 'systemctl --no-block stop ssh.service' '$T/calls'"
rm -f "$T/keep-keys"
args=(); for i in $(seq 1 20); do args+=("ssh_authorized_key=$KEY_A"); done
settings "${args[@]}"; run
expect "SSH: key lines are bounded (16)" bash -c "[ \$(wc -l <'$AK') = 16 ] && grep -q 'more than 16' '$T/boot/nostrp2p-status.txt'"

# --- Tailscale (1) ------------------------------------------------------------------------
settings tailscale_authkey=tskey-auth-TEST; run
expect "settings mode never runs tailscale (it is before the network)" bash -c "! grep -q '^tailscale\|tailscaled' '$T/calls'"
cp "$T/boot/nostrp2p.txt" "$T/ts.txt"
run tailscale
expect "tailscale mode: tailscale up with the key, bounded by --timeout" grep -q '^tailscale up --auth-key=tskey-auth-TEST --hostname=nostrp2p --timeout=' "$T/calls"
expect "tailscale mode: key erased after success, status says up" bash -c "grep -q '^tailscale_authkey=.\?$' '$T/boot/nostrp2p.txt' && grep -q '^Tailscale is up: 100.64.0.7' '$T/boot/nostrp2p-status.txt'"
cp "$T/ts.txt" "$T/boot/nostrp2p.txt"
TS_RESULT=1 run tailscale
expect "tailscale mode: failure keeps the key and says so" bash -c "grep -q '^tailscale_authkey=tskey-auth-TEST' '$T/boot/nostrp2p.txt' && grep -q '^PROBLEM: tailscale up failed' '$T/boot/nostrp2p-status.txt'"

# --- every systemctl call in any run was --no-block (1: nothing may wait inside firstboot) -
expect "firstboot's systemctl calls are all --no-block (static)" \
  bash -c "! grep -n 'systemctl ' '$F/firstboot' | grep -v '^[0-9]*:[[:space:]]*#' | grep -v -- '--no-block' | grep -q systemctl"

# --- unit files ---------------------------------------------------------------------------
u() { grep -q "^$2" "$F/$1"; }
expect "firstboot unit: start timeout" u nostrp2p-firstboot.service 'TimeoutStartSec=[0-9]'
expect "firstboot unit: not after network-online or tailscaled" bash -c "! grep -q 'network-online\|tailscaled' '$F/nostrp2p-firstboot.service'"
expect "tailscale unit: after network-online.target and tailscaled.service, start timeout" \
  bash -c "grep -q '^After=.*network-online.target' '$F/nostrp2p-tailscale.service' && grep -q '^After=.*tailscaled.service' '$F/nostrp2p-tailscale.service' && grep -q '^Wants=.*network-online.target' '$F/nostrp2p-tailscale.service' && grep -q '^TimeoutStartSec=[0-9]' '$F/nostrp2p-tailscale.service'"
expect "server unit: after and wants time-sync.target" bash -c "grep -q '^After=.*time-sync.target' '$F/nostrp2p.service' && grep -q '^Wants=.*time-sync.target' '$F/nostrp2p.service'"
expect "network-online: any one link, bounded" grep -q -- '--any --timeout=[0-9]' "$F/dropins/systemd-networkd-wait-online.conf"
expect "time-wait-sync: bounded wait" grep -q '^TimeoutStartSec=[0-9]' "$F/dropins/systemd-time-wait-sync.conf"
expect "wpa_supplicant@wlan0: after firstboot, only with a config" bash -c "grep -q '^After=nostrp2p-firstboot.service' '$F/dropins/wpa_supplicant@wlan0.conf' && grep -q '^ConditionFileNotEmpty=/etc/wpa_supplicant/wpa_supplicant-wlan0.conf' '$F/dropins/wpa_supplicant@wlan0.conf'"
expect "image build wires wlan0 device -> wpa_supplicant@wlan0, enables time-wait-sync, tailscale unit, clock timer" \
  bash -c "grep -q 'sys-subsystem-net-devices-wlan0.device.wants' '$HERE/build-image.sh' && grep -q 'systemd-time-wait-sync.service' '$HERE/build-image.sh' && grep -q 'nostrp2p-tailscale.service' '$HERE/build-image.sh' && grep -q 'nostrp2p-clock-save.timer' '$HERE/build-image.sh'"
expect "fake-hwclock in the root file system" grep -q 'fake-hwclock' "$HERE/build-rootfs.sh"
if command -v systemd-analyze >/dev/null; then
  # Syntax and directives of every unit (ExecStart paths exist only in the image: stand-ins).
  mkdir -p "$T/units"
  cp "$F"/*.service "$F"/*.timer "$T/units/"
  sed -i "s|/usr/lib/nostrp2p/[a-z]*|/bin/true|; s|/usr/bin/nostrp2p-run|/bin/true|; s|/sbin/fake-hwclock|/bin/true|" "$T/units"/*
  out=$(cd "$T/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no ./*.service ./*.timer 2>&1 | grep -v 'tailscaled.service\|wpa_supplicant\|boot-firmware.mount\|ssh.service\|Unit is bound to inactive unit\|not found')
  expect "systemd-analyze verify: no complaints${out:+ ($out)}" test -z "$out"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
