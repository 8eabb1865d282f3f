// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.app;
public final class NotificationChannel { public NotificationChannel(String id, CharSequence name, int importance) {} }
