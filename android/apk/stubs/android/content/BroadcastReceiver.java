// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.content;
public abstract class BroadcastReceiver { public abstract void onReceive(Context c, Intent i); }
