// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.app;
public abstract class Service extends android.content.Context {
  public static final int START_STICKY = 1;
  public abstract android.os.IBinder onBind(android.content.Intent i);
  public int onStartCommand(android.content.Intent i, int f, int id) { return 0; }
  public void onDestroy() {}
  public final void startForeground(int id, Notification n) {}
  public final void stopSelf() {}
}
