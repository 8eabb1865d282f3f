// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.net;
public class Network {}
