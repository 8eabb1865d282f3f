// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.text;
public interface Editable extends CharSequence {}
