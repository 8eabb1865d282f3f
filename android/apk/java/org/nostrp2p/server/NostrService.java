// Foreground service that runs the static nostrp2p executable shipped as
// lib/arm64-v8a/libnostrp2p.so (extracted to nativeLibraryDir, the one place an app may exec
// its own file since targetSdk 29). A watchdog thread restarts it when it exits; a start
// command while it runs restarts it with the current settings. Holds a partial wake lock and a
// Wi-Fi lock so the server stays reachable with the screen off.
// Source of truth for smali/org/nostrp2p/server/NostrService.smali.
package org.nostrp2p.server;

import android.app.Notification;
import android.app.NotificationChannel;
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
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.util.ArrayList;

public class NostrService extends Service implements Runnable {
    static final String PREFS = "nostrp2p";
    static final String DEFAULT_LISTEN = "0.0.0.0:20000";
    static final String TAG = "nostrp2p";
    static final String CHANNEL = "server";
    /** The log file is rotated (to nostrp2p.log.1) at a server start when larger than this. */
    static final long MAX_LOG_BYTES = 1048576;
    /** How much of the log the settings screen shows. */
    static final int LOG_TAIL_BYTES = 3000;

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
    public int onStartCommand(Intent intent, int flags, int startId) {
        NotificationManager nm = (NotificationManager) getSystemService("notification");
        nm.createNotificationChannel(new NotificationChannel(CHANNEL, "nostrp2p server", NotificationManager.IMPORTANCE_LOW));
        PendingIntent open = PendingIntent.getActivity(this, 0, new Intent(this, MainActivity.class), PendingIntent.FLAG_IMMUTABLE);
        Notification n = new Notification.Builder(this, CHANNEL)
                .setContentTitle("nostrp2p server is running")
                .setContentText("Tap for settings and the log")
                .setSmallIcon(0x0108007c) // android.R.drawable.stat_notify_sync
                .setContentIntent(open)
                .setOngoing(true)
                .build();
        startForeground(1, n);
        stopping = false;
        if (wakeLock == null) {
            wakeLock = ((PowerManager) getSystemService("power")).newWakeLock(PowerManager.PARTIAL_WAKE_LOCK, "nostrp2p:server");
            wakeLock.acquire();
            wifiLock = ((WifiManager) getApplicationContext().getSystemService("wifi")).createWifiLock(WifiManager.WIFI_MODE_FULL_HIGH_PERF, "nostrp2p:server");
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
                cmd.add(dir.getPath() + "/data");
                File log = new File(dir, "nostrp2p.log");
                if (log.length() > MAX_LOG_BYTES) {
                    log.renameTo(new File(dir, "nostrp2p.log.1"));
                }
                ProcessBuilder pb = new ProcessBuilder(cmd);
                pb.directory(dir);
                pb.redirectErrorStream(true);
                pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log));
                pb.environment().put("HOME", dir.getPath());
                // An app process has no resolv.conf: hand the network's DNS servers to the
                // server (src/platform.rs reads NOSTRP2P_DNS) for `-b host:port`.
                String dns = dnsServers();
                if (dns.length() > 0) {
                    pb.environment().put("NOSTRP2P_DNS", dns);
                }
                Log.i(TAG, "starting " + cmd);
                proc = pb.start();
                int rc = proc.waitFor();
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
        }
    }

    /** The active network's DNS servers, comma-separated ("" when there is no network). */
    private String dnsServers() {
        StringBuilder sb = new StringBuilder();
        try {
            ConnectivityManager cm = (ConnectivityManager) getSystemService("connectivity");
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
