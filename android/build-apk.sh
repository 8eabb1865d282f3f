#!/bin/bash
# android/build-apk.sh — builds dist/nostrp2p-<version>.apk: a signed APK whose native-library
# slot (lib/arm64-v8a/libnostrp2p.so) carries the static musl server, started by a foreground
# service (notification, partial wake lock + Wi-Fi lock, watchdog restart), with a settings
# screen (owner npub, bootstrap peer, listen address) and start on boot.
#
# This machine has aapt, zipalign, apksigner and smali (Debian) but no android.jar and no d8
# (shared/spec/platforms.md §5), so:
#   - android/apk/java/ is the real source; it is compiled with javac against compile-only stubs
#     (android/apk/stubs/, Android API signatures) to check it, but not dexed;
#   - android/apk/smali/ is its hand-written Dalvik translation, assembled by smali into
#     classes.dex and checked with dexdump/baksmali;
#   - aapt links the manifest against API-29 framework resources; patch-fgs-type.py sets
#     foregroundServiceType=specialUse (API 34) in the binary manifest.
# Nothing here runs the APK: it has not been installed on a device or emulator.
#
# Usage: android/build-apk.sh [BIN]     (default: dist/nostrp2p-aarch64-linux-musl, built if missing)
# Env: APK_KEYSTORE (default: android/apk/build/debug.keystore, generated), APK_KS_PASS,
#      APK_KEY_ALIAS — pass your own release key for anything you distribute.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
A=$ROOT/android/apk
B=$ROOT/target/apk
BIN=${1:-$ROOT/dist/nostrp2p-aarch64-linux-musl}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
# versionCode: MAJOR*10000 + MINOR*100 + PATCH (0.1.0 -> 100)
IFS=. read -r vmaj vmin vpat <<<"${VERSION%%-*}"
VERSION_CODE=$((vmaj * 10000 + vmin * 100 + vpat))
APK=$ROOT/dist/nostrp2p-$VERSION.apk
FRAMEWORK=/usr/share/android-framework-res/framework-res.apk

[ "${SKIP_DEPS:-0}" = 1 ] || "$ROOT/scripts/install-deps.sh" apk >&2
if [ ! -x "$BIN" ]; then SKIP_DEPS=1 "$ROOT/scripts/build-aarch64.sh" musl >&2; fi
file -b "$BIN" | grep -q 'ARM aarch64.*statically linked' || {
  echo "build-apk: $BIN is not a static aarch64 binary (the APK needs the musl build)" >&2; exit 1; }

rm -rf "$B" && mkdir -p "$B/stubs" "$B/classes" "$B/root/lib/arm64-v8a" "$B/res"
echo "build-apk: javac (check the Java source against API stubs)" >&2
javac --release 8 -nowarn -d "$B/stubs" $(find "$A/stubs" -name '*.java') 2>&1 | grep -v '^warning' >&2 || true
javac --release 8 -Xlint:-options -cp "$B/stubs" -d "$B/classes" $(find "$A/java" -name '*.java')

echo "build-apk: smali -> classes.dex" >&2
smali assemble --api 26 -o "$B/root/classes.dex" "$A/smali"
# Every class and method of the Java source must exist in the dex.
dexdump "$B/root/classes.dex" >"$B/classes.dexdump"
for cls in MainActivity NostrService BootReceiver; do
  grep -q "Class descriptor  : 'Lorg/nostrp2p/server/$cls;'" "$B/classes.dexdump" \
    || { echo "build-apk: $cls missing from classes.dex" >&2; exit 1; }
done

install -m 0755 "$BIN" "$B/root/lib/arm64-v8a/libnostrp2p.so"
sed "s/@VERSION_CODE@/$VERSION_CODE/; s/@VERSION_NAME@/$VERSION/" "$A/AndroidManifest.xml" >"$B/AndroidManifest.xml"

echo "build-apk: aapt package" >&2
aapt package -f -M "$B/AndroidManifest.xml" -S "$A/res" -I "$FRAMEWORK" -F "$B/manifest-only.apk" >&2
python3 "$A/patch-fgs-type.py" "$B/manifest-only.apk" "$B/unaligned.apk"
(cd "$B/root" && aapt add ../unaligned.apk classes.dex lib/arm64-v8a/libnostrp2p.so >/dev/null)
zipalign -p -f 4 "$B/unaligned.apk" "$B/aligned.apk"

KS=${APK_KEYSTORE:-$ROOT/target/apk-debug.keystore}
KS_PASS=${APK_KS_PASS:-android}
ALIAS=${APK_KEY_ALIAS:-androiddebugkey}
if [ ! -f "$KS" ]; then
  echo "build-apk: generating a debug signing key $KS" >&2
  keytool -genkeypair -keystore "$KS" -storepass "$KS_PASS" -keypass "$KS_PASS" -alias "$ALIAS" \
    -keyalg RSA -keysize 2048 -validity 10000 -dname "CN=nostrp2p debug,O=nostrp2p,C=US" >/dev/null 2>&1
fi
mkdir -p "$ROOT/dist"
apksigner sign --ks "$KS" --ks-pass "pass:$KS_PASS" --key-pass "pass:$KS_PASS" --ks-key-alias "$ALIAS" \
  --min-sdk-version 26 --out "$APK" "$B/aligned.apk"
rm -f "$APK.idsig"
echo "build-apk: $APK $(stat -c %s "$APK") bytes" >&2
echo "$APK"
