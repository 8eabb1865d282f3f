// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.os;
public final class PowerManager { public static final int PARTIAL_WAKE_LOCK = 1;
  public WakeLock newWakeLock(int levels, String tag) { return null; }
  public final class WakeLock { public void acquire() {} public void release() {} } }
