// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.app;
public class Activity extends android.content.Context {
  protected void onCreate(android.os.Bundle b) {}
  public void setContentView(android.view.View v) {}
  public final void requestPermissions(String[] p, int code) {}
}
