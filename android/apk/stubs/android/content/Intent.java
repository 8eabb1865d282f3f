// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.content;
public class Intent { public Intent(Context c, Class<?> k) {} public String getAction() { return null; } }
