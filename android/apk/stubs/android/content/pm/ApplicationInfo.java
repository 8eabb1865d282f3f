// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.content.pm;
public class ApplicationInfo { public String nativeLibraryDir; }
