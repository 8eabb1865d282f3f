// Android API 26+ calls, made by reflection: classes.dex is compiled against the real API-23
// android.jar (the newest one Debian packages), and minSdkVersion is 26, so on every device
// that installs the APK these lookups succeed. Each caller handles a failure anyway.
package org.nostrp2p.server;

import android.app.Notification;
import android.app.NotificationManager;
import android.content.Context;
import android.content.Intent;
import java.lang.reflect.InvocationTargetException;

final class Compat {
    /** NotificationManager.IMPORTANCE_LOW (API 24): no sound, shown in the shade. */
    static final int IMPORTANCE_LOW = 2;

    private Compat() {}

    /** NotificationManager.createNotificationChannel(new NotificationChannel(id, name, importance)) (API 26). */
    static void createChannel(NotificationManager nm, String id, CharSequence name, int importance) {
        try {
            Class<?> ch = Class.forName("android.app.NotificationChannel");
            Object channel = ch.getConstructor(String.class, CharSequence.class, int.class).newInstance(id, name, importance);
            nm.getClass().getMethod("createNotificationChannel", ch).invoke(nm, channel);
        } catch (Exception e) {
            android.util.Log.w(NostrService.TAG, "cannot create the notification channel", e);
        }
    }

    /** new Notification.Builder(c, channel) (API 26); the channel-less builder if that fails. */
    @SuppressWarnings("deprecation")
    static Notification.Builder builder(Context c, String channel) {
        try {
            return Notification.Builder.class.getConstructor(Context.class, String.class).newInstance(c, channel);
        } catch (Exception e) {
            return new Notification.Builder(c);
        }
    }

    /**
     * Context.startForegroundService(i) (API 26). Returns null when started, else the reason
     * Android gave (on Android 12+ a ForegroundServiceStartNotAllowedException when the app is
     * in the background).
     */
    static String startForegroundService(Context c, Intent i) {
        try {
            Context.class.getMethod("startForegroundService", Intent.class).invoke(c, i);
            return null;
        } catch (InvocationTargetException e) {
            Throwable t = e.getCause() != null ? e.getCause() : e;
            return t.getClass().getSimpleName() + ": " + t.getMessage();
        } catch (Exception e) {
            return e.toString();
        }
    }
}
