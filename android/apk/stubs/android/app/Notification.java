// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.app;
public class Notification {
  public static class Builder {
    public Builder(android.content.Context c, String channel) {}
    public Builder setContentTitle(CharSequence s) { return this; }
    public Builder setContentText(CharSequence s) { return this; }
    public Builder setSmallIcon(int i) { return this; }
    public Builder setContentIntent(PendingIntent p) { return this; }
    public Builder setOngoing(boolean b) { return this; }
    public Notification build() { return null; }
  }
}
