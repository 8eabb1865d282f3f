#!/bin/bash
# android/test-apk.sh — checks the APK as far as this machine can (no device, no emulator):
# signature (apksigner verify), alignment (zipalign -c), manifest (aapt dump badging/xmltree:
# package, versions, SDK levels, permissions, launcher, native code, specialUse FGS type), the
# native library is the server binary byte for byte (and runs under qemu: --version), the dex
# declares every method of the Java source with the same signature (javap vs dexdump), passes
# the bytecode verifier (android/verify-dex.sh, which must reject a broken dex), and has the
# Android 12+ refusal handling, the Stop action and the node-auth.json field.
# Usage: android/test-apk.sh [APK]   (default: builds dist/nostrp2p-<version>.apk)
# Last line: 'N passed, N failed'.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
APK=${1:-}
[ -n "$APK" ] || APK=$("$ROOT/android/build-apk.sh" | tail -1)
APK=$(readlink -f "$APK")
BIN=${BIN:-$ROOT/dist/nostrp2p-aarch64-linux-musl}
ANDROID_JAR=${ANDROID_JAR:-/usr/share/java/com.android.android-23.jar}
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
expect() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

expect "apksigner verify (v2/v3 signatures)" bash -c "apksigner verify --verbose '$APK' | grep -q 'Verified using v2 scheme (APK Signature Scheme v2): true'"
expect "zipalign -c -p 4" zipalign -c -p 4 "$APK"
aapt dump badging "$APK" >"$T/badging" 2>&1
b() { grep -q -- "$1" "$T/badging"; }
expect "package org.nostrp2p.server, versionName $VERSION" b "package: name='org.nostrp2p.server' versionCode='[0-9]*' versionName='$VERSION'"
expect "minSdk 26" b "sdkVersion:'26'"
expect "targetSdk 34" b "targetSdkVersion:'34'"
expect "launcher activity" b "launchable-activity: name='org.nostrp2p.server.MainActivity'"
expect "native code arm64-v8a" b "native-code: 'arm64-v8a'"
for p in INTERNET ACCESS_NETWORK_STATE WAKE_LOCK FOREGROUND_SERVICE FOREGROUND_SERVICE_SPECIAL_USE RECEIVE_BOOT_COMPLETED POST_NOTIFICATIONS; do
  expect "permission $p" b "uses-permission: name='android.permission.$p'"
done
aapt dump xmltree "$APK" AndroidManifest.xml >"$T/xml" 2>&1
expect "foregroundServiceType = specialUse (0x40000000)" grep -q 'foregroundServiceType(0x01010599)=(type 0x11)0x40000000' "$T/xml"
expect "extractNativeLibs=true (the exe is copied to nativeLibraryDir with exec permission)" grep -q 'extractNativeLibs(0x010104ea)=(type 0x12)0xffffffff' "$T/xml"
expect "BOOT_COMPLETED receiver" grep -q 'android.intent.action.BOOT_COMPLETED' "$T/xml"
(cd "$T" && unzip -q -o "$APK" lib/arm64-v8a/libnostrp2p.so classes.dex && chmod 0755 lib/arm64-v8a/libnostrp2p.so)  # the installer sets the exec bit
expect "lib/arm64-v8a/libnostrp2p.so is the server binary" cmp "$T/lib/arm64-v8a/libnostrp2p.so" "$BIN"
out=$(timeout 60 qemu-aarch64-static "$T/lib/arm64-v8a/libnostrp2p.so" --version 2>&1)
expect "packaged library runs under qemu: '$out'" test "$out" = "nostrp2p $VERSION"

# Java source vs dex: every method (name + descriptor) of the javac output is in classes.dex.
mkdir -p "$T/classes"
javac -source 8 -target 8 -bootclasspath "$ANDROID_JAR" -Xlint:-options -nowarn -d "$T/classes" $(find "$ROOT/android/apk/java" -name '*.java')
dexdump -d "$T/classes.dex" >"$T/dexdump"
missing=
for cls in MainActivity NostrService BootReceiver Compat; do
  while read -r sig; do
    name=${sig%%:*}; desc=${sig#*:}
    grep -B1 -A1 "name          : '$name'" "$T/dexdump" | grep -qF "type          : '$desc'" || missing="$missing $cls.$name$desc"
  done < <(javap -s -p "$T/classes/org/nostrp2p/server/$cls.class" | awk '
    /^  [a-z].*\(.*\)/ { n=$0; sub(/\(.*/, "", n); k=split(n, w, " "); name=w[k]; if (name ~ /\./) name="<init>"; getline; d=$0; sub(/.*descriptor: /, "", d); print name ":" d }')
done
expect "dex has every Java method with the same descriptor${missing:+ (missing:$missing)}" test -z "$missing"
expect "bytecode verifier accepts classes.dex (enjarify + JVM verifier vs android.jar)" env SKIP_DEPS=1 "$ROOT/android/verify-dex.sh" "$T/classes.dex"
# The verifier must be able to fail: a dex whose method passes a String where an Intent goes.
mkdir -p "$T/broken"
cat >"$T/broken/Broken.smali" <<'SMALI'
.class public Lorg/nostrp2p/server/Broken;
.super Ljava/lang/Object;
.method public static start(Landroid/content/Context;)V
    .registers 2
    const-string v0, "not an Intent"
    invoke-virtual {p0, v0}, Landroid/content/Context;->startService(Landroid/content/Intent;)Landroid/content/ComponentName;
    return-void
.end method
SMALI
smali assemble --api 26 -o "$T/broken.dex" "$T/broken" >/dev/null 2>&1
SKIP_DEPS=1 "$ROOT/android/verify-dex.sh" "$T/broken.dex" >"$T/broken.log" 2>&1
expect "bytecode verifier rejects a deliberately broken dex" grep -q 'VerifyError.*Incompatible argument' "$T/broken.log"
# Issue 12 (9): startForeground is inside a try whose handler catches the refusal (an
# IllegalStateException subclass on Android 12+), and the service has a Stop action.
onstart=$(awk '/name *: .onStartCommand./,/positions/' "$T/dexdump")
expect "onStartCommand catches RuntimeException around startForeground" \
  bash -c 'grep -q "Landroid/app/Service;.startForeground\|NostrService;.startForeground" <<<"$1" && grep -q "Ljava/lang/RuntimeException;" <<<"$1"' _ "$onstart"
expect "notification Stop action (org.nostrp2p.server.STOP)" grep -q '"org.nostrp2p.server.STOP"' "$T/dexdump"
# Issue 12 (11): the settings screen writes node-auth.json into the server's data directory.
expect "settings screen writes node-auth.json" grep -q '"node-auth.json"' "$T/dexdump"
echo "info APK size $(stat -c %s "$APK") bytes; not installed or run on any device (none here)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
