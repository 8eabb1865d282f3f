// Foreground service that runs the static nostrp2p executable shipped as
// lib/arm64-v8a/libnostrp2p.so (extracted to nativeLibraryDir, the one place an app may exec
// its own file since targetSdk 29). A watchdog thread restarts it when it exits and copies its
// output to nostrp2p.log (rotated at MAX_LOG_BYTES); a start command while it runs restarts it
// with the current settings. Holds a partial wake lock and a Wi-Fi lock so the server stays
// reachable with the screen off. The notification has a Stop action.
//
// Android 12+ may refuse startForeground() when it recreates this (sticky) service while the
// app is in the background (ForegroundServiceStartNotAllowedException). Then the service
// stops cleanly, records why, and posts a notification that opens the app to start it again.
package org.nostrp2p.server;

import android.app.Notification;
import android.app.NotificationManager;
import android.app.PendingIntent;
import android.app.Service;
import android.content.Context;
import android.content.Intent;
import android.content.SharedPreferences;
import android.net.ConnectivityManager;
import android.net.LinkProperties;
import android.net.wifi.WifiManager;
import android.os.IBinder;
import android.os.PowerManager;
import android.util.Log;
import java.io.File;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.util.ArrayList;

public class NostrService extends Service implements Runnable {
    static final String PREFS = "nostrp2p";
    static final String DEFAULT_LISTEN = "0.0.0.0:20000";
    static final String TAG = "nostrp2p";
    static final String CHANNEL = "server";
    /** Intent action of the notification's Stop button. */
    static final String ACTION_STOP = "org.nostrp2p.server.STOP";
    /** false once the user pressed Stop: no start on boot until "Save and start". */
    static final String KEY_ENABLED = "enabled";
    /** Why the server last failed to start (shown on the settings screen), "" when it started. */
    static final String KEY_ERROR = "last_error";
    static final int NOTE_RUNNING = 1;
    static final int NOTE_REFUSED = 2;
    /** The log file is rotated (to nostrp2p.log.1) when larger than this: 2 files of 1 MiB at most. */
    static final long MAX_LOG_BYTES = 1048576;
    /** How much of the log the settings screen shows. */
    static final int LOG_TAIL_BYTES = 3000;
    /** Copy buffer for the server's output (the watchdog thread's only allocation per start). */
    static final int PUMP_BUFFER_BYTES = 4096;

    private volatile boolean stopping;
    private volatile Process proc;
    private Thread watchdog;
    private PowerManager.WakeLock wakeLock;
    private WifiManager.WifiLock wifiLock;

    @Override
    public IBinder onBind(Intent intent) {
        return null;
    }

    @Override
    @SuppressWarnings("deprecation") // Notification.Action.Builder would add nothing here
    public int onStartCommand(Intent intent, int flags, int startId) {
        if (intent != null && ACTION_STOP.equals(intent.getAction())) {
            getSharedPreferences(PREFS, 0).edit().putBoolean(KEY_ENABLED, false).apply();
            Log.i(TAG, "stopped by the user");
            stopSelf(); // onDestroy stops the server and releases the locks
            return START_NOT_STICKY;
        }
        NotificationManager nm = (NotificationManager) getSystemService(Context.NOTIFICATION_SERVICE);
        Compat.createChannel(nm, CHANNEL, "nostrp2p server", Compat.IMPORTANCE_LOW);
        PendingIntent open = PendingIntent.getActivity(this, 0, new Intent(this, MainActivity.class), PendingIntent.FLAG_IMMUTABLE);
        PendingIntent stop = PendingIntent.getService(this, 1, new Intent(this, NostrService.class).setAction(ACTION_STOP),
                PendingIntent.FLAG_IMMUTABLE);
        Notification n = Compat.builder(this, CHANNEL)
                .setContentTitle("nostrp2p server is running")
                .setContentText("Tap for settings and the log")
                .setSmallIcon(android.R.drawable.stat_notify_sync)
                .setContentIntent(open)
                .addAction(android.R.drawable.ic_menu_close_clear_cancel, "Stop", stop)
                .setOngoing(true)
                .build();
        try {
            startForeground(NOTE_RUNNING, n);
        } catch (RuntimeException e) {
            // ForegroundServiceStartNotAllowedException (Android 12+) is an IllegalStateException;
            // any refusal ends the same way: stop, and tell the user instead of crash-looping.
            String why = e.getClass().getSimpleName() + ": " + e.getMessage();
            Log.e(TAG, "Android refused to run the server in the foreground: " + why);
            refused(this, why);
            stopSelf();
            return START_NOT_STICKY;
        }
        nm.cancel(NOTE_REFUSED);
        getSharedPreferences(PREFS, 0).edit().putString(KEY_ERROR, "").apply();
        stopping = false;
        if (wakeLock == null) {
            wakeLock = ((PowerManager) getSystemService(Context.POWER_SERVICE)).newWakeLock(PowerManager.PARTIAL_WAKE_LOCK, "nostrp2p:server");
            wakeLock.acquire();
            wifiLock = ((WifiManager) getApplicationContext().getSystemService(Context.WIFI_SERVICE))
                    .createWifiLock(WifiManager.WIFI_MODE_FULL_HIGH_PERF, "nostrp2p:server");
            wifiLock.acquire();
        }
        if (watchdog == null) {
            watchdog = new Thread(this, "nostrp2p-watchdog");
            watchdog.start();
        } else {
            Process p = proc;
            if (p != null) {
                p.destroy(); // the watchdog starts it again with the new settings
            }
        }
        return START_STICKY;
    }

    /** Records why the server could not start and posts a notification that opens the app. */
    static void refused(Context c, String why) {
        c.getSharedPreferences(PREFS, 0).edit()
                .putString(KEY_ERROR, "Android did not let the server start in the background (" + why
                        + "). Press \"Save and start\" to start it.")
                .apply();
        try {
            NotificationManager nm = (NotificationManager) c.getSystemService(Context.NOTIFICATION_SERVICE);
            Compat.createChannel(nm, CHANNEL, "nostrp2p server", Compat.IMPORTANCE_LOW);
            PendingIntent open = PendingIntent.getActivity(c, 0, new Intent(c, MainActivity.class), PendingIntent.FLAG_IMMUTABLE);
            nm.notify(NOTE_REFUSED, Compat.builder(c, CHANNEL)
                    .setContentTitle("nostrp2p server stopped")
                    .setContentText("Android did not let it start in the background. Tap to start it.")
                    .setSmallIcon(android.R.drawable.stat_notify_error)
                    .setContentIntent(open)
                    .setAutoCancel(true)
                    .build());
        } catch (RuntimeException e) {
            Log.w(TAG, "cannot post the notification", e);
        }
    }

    @Override
    public void run() {
        while (!stopping) {
            try {
                SharedPreferences prefs = getSharedPreferences(PREFS, 0);
                String owner = prefs.getString("owner", "");
                if (owner.length() == 0) {
                    Log.w(TAG, "no owner key set: open the app and enter it");
                    stopSelf();
                    return;
                }
                File dir = getFilesDir();
                ArrayList<String> cmd = new ArrayList<String>();
                cmd.add(getApplicationInfo().nativeLibraryDir + "/libnostrp2p.so");
                cmd.add("server");
                cmd.add("-p");
                cmd.add(owner);
                cmd.add("-l");
                cmd.add(prefs.getString("listen", DEFAULT_LISTEN));
                String boot = prefs.getString("bootstrap", "");
                if (boot.length() > 0) {
                    cmd.add("-b");
                    cmd.add(boot);
                }
                cmd.add("--data-dir");
                cmd.add(dataDir(this).getPath());
                ProcessBuilder pb = new ProcessBuilder(cmd);
                pb.directory(dir);
                pb.redirectErrorStream(true);
                pb.environment().put("HOME", dir.getPath());
                // An app process has no resolv.conf: hand the network's DNS servers to the
                // server (src/platform/dns.rs reads NOSTRP2P_DNS first) for `-b host:port`.
                String dns = dnsServers();
                if (dns.length() > 0) {
                    pb.environment().put("NOSTRP2P_DNS", dns);
                }
                Log.i(TAG, "starting " + cmd);
                Process p = pb.start();
                proc = p;
                p.getOutputStream().close();
                pump(p.getInputStream(), new File(dir, "nostrp2p.log"));
                int rc = p.waitFor();
                Log.w(TAG, "server exited with status " + rc);
                Thread.sleep(2000);
            } catch (Exception e) {
                Log.e(TAG, "cannot run the server", e);
                try {
                    Thread.sleep(10000);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    /** Copies the server's output to the log until it exits, rotating at MAX_LOG_BYTES. */
    static void pump(InputStream in, File log) throws java.io.IOException {
        byte[] buf = new byte[PUMP_BUFFER_BYTES];
        File old = new File(log.getPath() + ".1");
        long size = log.length();
        OutputStream out = new FileOutputStream(log, true);
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                if (size + n > MAX_LOG_BYTES) {
                    out.close();
                    log.renameTo(old);
                    out = new FileOutputStream(log, false);
                    size = 0;
                }
                out.write(buf, 0, n);
                size += n;
            }
        } finally {
            out.close();
            in.close();
        }
    }

    /** The server's data directory (node.key, node-auth.json, the store). */
    static File dataDir(Context c) {
        return new File(c.getFilesDir(), "data");
    }

    @Override
    public void onDestroy() {
        stopping = true;
        Process p = proc;
        if (p != null) {
            p.destroy();
        }
        if (watchdog != null) {
            watchdog.interrupt();
        }
        if (wakeLock != null) {
            wakeLock.release();
            wifiLock.release();
            wakeLock = null;
        }
    }

    /** The active network's DNS servers, comma-separated ("" when there is no network). */
    private String dnsServers() {
        StringBuilder sb = new StringBuilder();
        try {
            ConnectivityManager cm = (ConnectivityManager) getSystemService(Context.CONNECTIVITY_SERVICE);
            LinkProperties lp = cm.getLinkProperties(cm.getActiveNetwork());
            for (InetAddress a : lp.getDnsServers()) {
                if (sb.length() > 0) {
                    sb.append(',');
                }
                sb.append(a.getHostAddress());
            }
        } catch (Exception e) {
            // no network yet: the server falls back to public resolvers
        }
        return sb.toString();
    }

    static String readLogTail(Context c) {
        try {
            RandomAccessFile f = new RandomAccessFile(new File(c.getFilesDir(), "nostrp2p.log"), "r");
            long len = f.length();
            long start = len > LOG_TAIL_BYTES ? len - LOG_TAIL_BYTES : 0;
            f.seek(start);
            byte[] b = new byte[(int) (len - start)];
            f.readFully(b);
            f.close();
            return "Server log (" + c.getFilesDir().getPath() + "/nostrp2p.log):\n" + new String(b, "UTF-8");
        } catch (Exception e) {
            return "No server log yet.";
        }
    }
}
