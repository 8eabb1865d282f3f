// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.app;
public final class PendingIntent { public static final int FLAG_IMMUTABLE = 67108864;
  public static PendingIntent getActivity(android.content.Context c, int code, android.content.Intent i, int flags) { return null; } }
