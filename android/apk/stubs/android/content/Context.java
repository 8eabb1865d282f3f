// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.content;
public abstract class Context {
  public SharedPreferences getSharedPreferences(String n, int m) { return null; }
  public ComponentName startForegroundService(Intent i) { return null; }
  public Object getSystemService(String n) { return null; }
  public Context getApplicationContext() { return null; }
  public java.io.File getFilesDir() { return null; }
  public android.content.pm.ApplicationInfo getApplicationInfo() { return null; }
}
