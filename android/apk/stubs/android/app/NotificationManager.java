// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.app;
public class NotificationManager { public static final int IMPORTANCE_LOW = 2; public void createNotificationChannel(NotificationChannel c) {} }
