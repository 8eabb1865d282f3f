#!/bin/bash
# android/verify-dex.sh — checks a classes.dex with a real bytecode verifier: enjarify translates
# the Dalvik code to JVM bytecode, and android/verify/VerifyJar.java loads and links every class
# with the JVM verifier on, against the API-23 android.jar (so a call with a wrong argument type,
# a bad register or a broken branch is an error here, as it would be a VerifyError on a phone).
# Usage: android/verify-dex.sh CLASSES.dex     Exit 0 when every class verifies.
# Env: ANDROID_JAR (default Debian's libandroid-23-java jar), SKIP_DEPS=1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEX=${1:?usage: android/verify-dex.sh CLASSES.dex}
ANDROID_JAR=${ANDROID_JAR:-/usr/share/java/com.android.android-23.jar}
[ "${SKIP_DEPS:-0}" = 1 ] || "$ROOT/scripts/install-deps.sh" apk >&2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# Debian's enjarify wrapper runs the first python3 on PATH; its module is Debian's python3's.
PATH=/usr/bin:$PATH enjarify -f -o "$T/classes.jar" "$DEX" >"$T/enjarify.log" 2>&1 \
  || { cat "$T/enjarify.log" >&2; echo "verify-dex: enjarify could not translate $DEX" >&2; exit 1; }
grep -q ' 0 classes had errors' "$T/enjarify.log" \
  || { cat "$T/enjarify.log" >&2; echo "verify-dex: enjarify could not translate every class" >&2; exit 1; }
javac -d "$T/v" "$ROOT/android/verify/VerifyJar.java"
java -Xshare:off -cp "$T/v" VerifyJar "$T/classes.jar" "$ANDROID_JAR"
