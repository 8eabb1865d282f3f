// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.net;
public class ConnectivityManager { public Network getActiveNetwork() { return null; } public LinkProperties getLinkProperties(Network n) { return null; } }
