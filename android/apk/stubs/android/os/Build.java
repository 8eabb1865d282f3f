// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.os;
public class Build { public static class VERSION { public static final int SDK_INT = Integer.getInteger("sdk", 0); } }
