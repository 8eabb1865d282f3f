// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.net.wifi;
public class WifiManager { public static final int WIFI_MODE_FULL_HIGH_PERF = 3;
  public WifiLock createWifiLock(int mode, String tag) { return null; }
  public class WifiLock { public void acquire() {} public void release() {} } }
