#!/bin/bash
# android/build-apk.sh — builds dist/nostrp2p-<version>.apk: a signed APK whose native-library
# slot (lib/arm64-v8a/libnostrp2p.so) carries the static musl server, started by a foreground
# service (notification with a Stop action, partial wake lock + Wi-Fi lock, watchdog restart),
# with a settings screen (owner npub, bootstrap peer, listen address, node-auth.json, Stop) and
# start on boot.
#
# The dex is built with a real toolchain from Debian (scripts/install-deps.sh apk):
#   - javac compiles android/apk/java/ against the real API-23 android.jar (libandroid-23-java,
#     as the boot class path, so java.* is Android's too); the few API 26+ calls go through
#     reflection in Compat.java (minSdkVersion is 26);
#   - dx (dalvik-exchange) turns the classes into classes.dex, which android/verify-dex.sh checks
#     with the JVM bytecode verifier (enjarify translation);
#   - aapt links the manifest against API-29 framework resources; patch-fgs-type.py sets
#     foregroundServiceType=specialUse (API 34) in the binary manifest.
# Nothing here runs the APK: it has not been installed on a device or emulator.
#
# Usage: android/build-apk.sh [BIN]     (default: dist/nostrp2p-aarch64-linux-musl, built if missing)
# Env: APK_KEYSTORE (default: target/apk-debug.keystore, generated), APK_KS_PASS,
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
ANDROID_JAR=${ANDROID_JAR:-/usr/share/java/com.android.android-23.jar}

[ "${SKIP_DEPS:-0}" = 1 ] || "$ROOT/scripts/install-deps.sh" apk >&2
if [ ! -x "$BIN" ]; then SKIP_DEPS=1 "$ROOT/scripts/build-aarch64.sh" musl >&2; fi
file -b "$BIN" | grep -q 'ARM aarch64.*statically linked' || {
  echo "build-apk: $BIN is not a static aarch64 binary (the APK needs the musl build)" >&2; exit 1; }

rm -rf "$B" && mkdir -p "$B/classes" "$B/root/lib/arm64-v8a" "$B/res"
echo "build-apk: javac against android.jar (API 23)" >&2
javac -source 8 -target 8 -bootclasspath "$ANDROID_JAR" -Xlint:all -Xlint:-options -Werror \
  -d "$B/classes" $(find "$A/java" -name '*.java')
echo "build-apk: dx -> classes.dex" >&2
dalvik-exchange --dex --min-sdk-version=26 --output="$B/root/classes.dex" "$B/classes"
SKIP_DEPS=1 "$ROOT/android/verify-dex.sh" "$B/root/classes.dex" >&2
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
