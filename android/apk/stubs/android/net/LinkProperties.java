// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.net;
public final class LinkProperties { public java.util.List<java.net.InetAddress> getDnsServers() { return null; } }
