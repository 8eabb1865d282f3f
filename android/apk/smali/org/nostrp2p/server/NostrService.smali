# Hand-written Dalvik for java/org/nostrp2p/server/NostrService.java (no d8 on the build machine).
.class public Lorg/nostrp2p/server/NostrService;
.super Landroid/app/Service;
.source "NostrService.java"

.implements Ljava/lang/Runnable;

.field private volatile stopping:Z
.field private volatile proc:Ljava/lang/Process;
.field private watchdog:Ljava/lang/Thread;
.field private wakeLock:Landroid/os/PowerManager$WakeLock;
.field private wifiLock:Landroid/net/wifi/WifiManager$WifiLock;

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/app/Service;-><init>()V
    return-void
.end method

.method public onBind(Landroid/content/Intent;)Landroid/os/IBinder;
    .registers 3
    const/4 v0, 0x0
    return-object v0
.end method

.method public onStartCommand(Landroid/content/Intent;II)I
    .registers 10
    # locals v0..v5; p0 this, p1 intent, p2 flags, p3 startId

    # Notification channel (API 26+; minSdk is 26).
    const-string v0, "notification"
    invoke-virtual {p0, v0}, Lorg/nostrp2p/server/NostrService;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/app/NotificationManager;
    new-instance v1, Landroid/app/NotificationChannel;
    const-string v2, "server"
    const-string v3, "nostrp2p server"
    const/4 v4, 0x2
    invoke-direct {v1, v2, v3, v4}, Landroid/app/NotificationChannel;-><init>(Ljava/lang/String;Ljava/lang/CharSequence;I)V
    invoke-virtual {v0, v1}, Landroid/app/NotificationManager;->createNotificationChannel(Landroid/app/NotificationChannel;)V

    # Tapping the notification opens the settings screen.
    new-instance v1, Landroid/content/Intent;
    const-class v2, Lorg/nostrp2p/server/MainActivity;
    invoke-direct {v1, p0, v2}, Landroid/content/Intent;-><init>(Landroid/content/Context;Ljava/lang/Class;)V
    const/4 v2, 0x0
    const/high16 v3, 0x4000000
    invoke-static {p0, v2, v1, v3}, Landroid/app/PendingIntent;->getActivity(Landroid/content/Context;ILandroid/content/Intent;I)Landroid/app/PendingIntent;
    move-result-object v1

    new-instance v0, Landroid/app/Notification$Builder;
    const-string v2, "server"
    invoke-direct {v0, p0, v2}, Landroid/app/Notification$Builder;-><init>(Landroid/content/Context;Ljava/lang/String;)V
    const-string v2, "nostrp2p server is running"
    invoke-virtual {v0, v2}, Landroid/app/Notification$Builder;->setContentTitle(Ljava/lang/CharSequence;)Landroid/app/Notification$Builder;
    const-string v2, "Tap for settings and the log"
    invoke-virtual {v0, v2}, Landroid/app/Notification$Builder;->setContentText(Ljava/lang/CharSequence;)Landroid/app/Notification$Builder;
    # android.R.drawable.stat_notify_sync
    const v2, 0x0108007c
    invoke-virtual {v0, v2}, Landroid/app/Notification$Builder;->setSmallIcon(I)Landroid/app/Notification$Builder;
    invoke-virtual {v0, v1}, Landroid/app/Notification$Builder;->setContentIntent(Landroid/app/PendingIntent;)Landroid/app/Notification$Builder;
    const/4 v2, 0x1
    invoke-virtual {v0, v2}, Landroid/app/Notification$Builder;->setOngoing(Z)Landroid/app/Notification$Builder;
    invoke-virtual {v0}, Landroid/app/Notification$Builder;->build()Landroid/app/Notification;
    move-result-object v0
    const/4 v2, 0x1
    invoke-virtual {p0, v2, v0}, Lorg/nostrp2p/server/NostrService;->startForeground(ILandroid/app/Notification;)V

    const/4 v0, 0x0
    iput-boolean v0, p0, Lorg/nostrp2p/server/NostrService;->stopping:Z

    # Wake lock + Wi-Fi lock, once.
    iget-object v0, p0, Lorg/nostrp2p/server/NostrService;->wakeLock:Landroid/os/PowerManager$WakeLock;
    if-nez v0, :locks_done
    const-string v0, "power"
    invoke-virtual {p0, v0}, Lorg/nostrp2p/server/NostrService;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/os/PowerManager;
    const/4 v1, 0x1
    const-string v2, "nostrp2p:server"
    invoke-virtual {v0, v1, v2}, Landroid/os/PowerManager;->newWakeLock(ILjava/lang/String;)Landroid/os/PowerManager$WakeLock;
    move-result-object v0
    iput-object v0, p0, Lorg/nostrp2p/server/NostrService;->wakeLock:Landroid/os/PowerManager$WakeLock;
    invoke-virtual {v0}, Landroid/os/PowerManager$WakeLock;->acquire()V
    invoke-virtual {p0}, Lorg/nostrp2p/server/NostrService;->getApplicationContext()Landroid/content/Context;
    move-result-object v0
    const-string v1, "wifi"
    invoke-virtual {v0, v1}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/net/wifi/WifiManager;
    const/4 v1, 0x3
    invoke-virtual {v0, v1, v2}, Landroid/net/wifi/WifiManager;->createWifiLock(ILjava/lang/String;)Landroid/net/wifi/WifiManager$WifiLock;
    move-result-object v0
    iput-object v0, p0, Lorg/nostrp2p/server/NostrService;->wifiLock:Landroid/net/wifi/WifiManager$WifiLock;
    invoke-virtual {v0}, Landroid/net/wifi/WifiManager$WifiLock;->acquire()V
    :locks_done

    # First start: the watchdog thread runs the server. Later starts: restart the server so it
    # picks up changed settings (the watchdog starts it again).
    iget-object v0, p0, Lorg/nostrp2p/server/NostrService;->watchdog:Ljava/lang/Thread;
    if-nez v0, :restart
    new-instance v0, Ljava/lang/Thread;
    const-string v1, "nostrp2p-watchdog"
    invoke-direct {v0, p0, v1}, Ljava/lang/Thread;-><init>(Ljava/lang/Runnable;Ljava/lang/String;)V
    iput-object v0, p0, Lorg/nostrp2p/server/NostrService;->watchdog:Ljava/lang/Thread;
    invoke-virtual {v0}, Ljava/lang/Thread;->start()V
    goto :sticky
    :restart
    iget-object v0, p0, Lorg/nostrp2p/server/NostrService;->proc:Ljava/lang/Process;
    if-eqz v0, :sticky
    invoke-virtual {v0}, Ljava/lang/Process;->destroy()V

    :sticky
    # START_STICKY
    const/4 v0, 0x1
    return v0
.end method

.method public run()V
    .registers 10
    # locals v0..v8; p0 this
    :loop
    iget-boolean v0, p0, Lorg/nostrp2p/server/NostrService;->stopping:Z
    if-nez v0, :exit

    :try_start
    const-string v0, "nostrp2p"
    const/4 v1, 0x0
    invoke-virtual {p0, v0, v1}, Lorg/nostrp2p/server/NostrService;->getSharedPreferences(Ljava/lang/String;I)Landroid/content/SharedPreferences;
    move-result-object v1
    # v1 = prefs
    const-string v0, "owner"
    const-string v2, ""
    invoke-interface {v1, v0, v2}, Landroid/content/SharedPreferences;->getString(Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v2
    # v2 = owner
    invoke-virtual {v2}, Ljava/lang/String;->length()I
    move-result v0
    if-nez v0, :configured
    const-string v0, "nostrp2p"
    const-string v3, "no owner key set: open the app and enter it"
    invoke-static {v0, v3}, Landroid/util/Log;->w(Ljava/lang/String;Ljava/lang/String;)I
    invoke-virtual {p0}, Lorg/nostrp2p/server/NostrService;->stopSelf()V
    return-void

    :configured
    invoke-virtual {p0}, Lorg/nostrp2p/server/NostrService;->getFilesDir()Ljava/io/File;
    move-result-object v3
    # v3 = dir
    new-instance v4, Ljava/util/ArrayList;
    invoke-direct {v4}, Ljava/util/ArrayList;-><init>()V
    # v4 = cmd

    new-instance v5, Ljava/lang/StringBuilder;
    invoke-direct {v5}, Ljava/lang/StringBuilder;-><init>()V
    invoke-virtual {p0}, Lorg/nostrp2p/server/NostrService;->getApplicationInfo()Landroid/content/pm/ApplicationInfo;
    move-result-object v6
    iget-object v6, v6, Landroid/content/pm/ApplicationInfo;->nativeLibraryDir:Ljava/lang/String;
    invoke-virtual {v5, v6}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    const-string v6, "/libnostrp2p.so"
    invoke-virtual {v5, v6}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v5}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v5
    invoke-virtual {v4, v5}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z
    const-string v5, "server"
    invoke-virtual {v4, v5}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z
    const-string v5, "-p"
    invoke-virtual {v4, v5}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z
    invoke-virtual {v4, v2}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z
    const-string v5, "-l"
    invoke-virtual {v4, v5}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z
    const-string v5, "listen"
    const-string v6, "0.0.0.0:20000"
    invoke-interface {v1, v5, v6}, Landroid/content/SharedPreferences;->getString(Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v5
    invoke-virtual {v4, v5}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z
    const-string v5, "bootstrap"
    const-string v6, ""
    invoke-interface {v1, v5, v6}, Landroid/content/SharedPreferences;->getString(Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v5
    invoke-virtual {v5}, Ljava/lang/String;->length()I
    move-result v6
    if-lez v6, :no_bootstrap
    const-string v6, "-b"
    invoke-virtual {v4, v6}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z
    invoke-virtual {v4, v5}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z
    :no_bootstrap
    const-string v5, "--data-dir"
    invoke-virtual {v4, v5}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z
    new-instance v5, Ljava/lang/StringBuilder;
    invoke-direct {v5}, Ljava/lang/StringBuilder;-><init>()V
    invoke-virtual {v3}, Ljava/io/File;->getPath()Ljava/lang/String;
    move-result-object v6
    invoke-virtual {v5, v6}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    const-string v6, "/data"
    invoke-virtual {v5, v6}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v5}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v5
    invoke-virtual {v4, v5}, Ljava/util/ArrayList;->add(Ljava/lang/Object;)Z

    # Log file, rotated at start when over 1 MiB.
    new-instance v5, Ljava/io/File;
    const-string v6, "nostrp2p.log"
    invoke-direct {v5, v3, v6}, Ljava/io/File;-><init>(Ljava/io/File;Ljava/lang/String;)V
    # v5 = log
    invoke-virtual {v5}, Ljava/io/File;->length()J
    move-result-wide v6
    const-wide/32 v0, 0x100000
    cmp-long v0, v6, v0
    # rotate only when the log is larger than 1 MiB
    if-lez v0, :no_rotate
    new-instance v6, Ljava/io/File;
    const-string v7, "nostrp2p.log.1"
    invoke-direct {v6, v3, v7}, Ljava/io/File;-><init>(Ljava/io/File;Ljava/lang/String;)V
    invoke-virtual {v5, v6}, Ljava/io/File;->renameTo(Ljava/io/File;)Z
    :no_rotate

    new-instance v6, Ljava/lang/ProcessBuilder;
    invoke-direct {v6, v4}, Ljava/lang/ProcessBuilder;-><init>(Ljava/util/List;)V
    invoke-virtual {v6, v3}, Ljava/lang/ProcessBuilder;->directory(Ljava/io/File;)Ljava/lang/ProcessBuilder;
    const/4 v7, 0x1
    invoke-virtual {v6, v7}, Ljava/lang/ProcessBuilder;->redirectErrorStream(Z)Ljava/lang/ProcessBuilder;
    invoke-static {v5}, Ljava/lang/ProcessBuilder$Redirect;->appendTo(Ljava/io/File;)Ljava/lang/ProcessBuilder$Redirect;
    move-result-object v7
    invoke-virtual {v6, v7}, Ljava/lang/ProcessBuilder;->redirectOutput(Ljava/lang/ProcessBuilder$Redirect;)Ljava/lang/ProcessBuilder;
    invoke-virtual {v6}, Ljava/lang/ProcessBuilder;->environment()Ljava/util/Map;
    move-result-object v7
    invoke-virtual {v3}, Ljava/io/File;->getPath()Ljava/lang/String;
    move-result-object v8
    const-string v0, "HOME"
    invoke-interface {v7, v0, v8}, Ljava/util/Map;->put(Ljava/lang/Object;Ljava/lang/Object;)Ljava/lang/Object;
    # NOSTRP2P_DNS = the active network's DNS servers (an app process has no resolv.conf)
    invoke-direct {p0}, Lorg/nostrp2p/server/NostrService;->dnsServers()Ljava/lang/String;
    move-result-object v8
    invoke-virtual {v8}, Ljava/lang/String;->length()I
    move-result v0
    if-lez v0, :no_dns
    const-string v0, "NOSTRP2P_DNS"
    invoke-interface {v7, v0, v8}, Ljava/util/Map;->put(Ljava/lang/Object;Ljava/lang/Object;)Ljava/lang/Object;
    :no_dns

    new-instance v7, Ljava/lang/StringBuilder;
    invoke-direct {v7}, Ljava/lang/StringBuilder;-><init>()V
    const-string v8, "starting "
    invoke-virtual {v7, v8}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v7, v4}, Ljava/lang/StringBuilder;->append(Ljava/lang/Object;)Ljava/lang/StringBuilder;
    invoke-virtual {v7}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v7
    const-string v8, "nostrp2p"
    invoke-static {v8, v7}, Landroid/util/Log;->i(Ljava/lang/String;Ljava/lang/String;)I

    invoke-virtual {v6}, Ljava/lang/ProcessBuilder;->start()Ljava/lang/Process;
    move-result-object v7
    iput-object v7, p0, Lorg/nostrp2p/server/NostrService;->proc:Ljava/lang/Process;
    invoke-virtual {v7}, Ljava/lang/Process;->waitFor()I
    move-result v7

    new-instance v8, Ljava/lang/StringBuilder;
    invoke-direct {v8}, Ljava/lang/StringBuilder;-><init>()V
    const-string v0, "server exited with status "
    invoke-virtual {v8, v0}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v8, v7}, Ljava/lang/StringBuilder;->append(I)Ljava/lang/StringBuilder;
    invoke-virtual {v8}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v8
    const-string v0, "nostrp2p"
    invoke-static {v0, v8}, Landroid/util/Log;->w(Ljava/lang/String;Ljava/lang/String;)I

    const-wide/16 v0, 0x7d0
    invoke-static {v0, v1}, Ljava/lang/Thread;->sleep(J)V
    :try_end
    .catch Ljava/lang/Exception; {:try_start .. :try_end} :failed
    goto :loop

    :failed
    move-exception v0
    const-string v1, "nostrp2p"
    const-string v2, "cannot run the server"
    invoke-static {v1, v2, v0}, Landroid/util/Log;->e(Ljava/lang/String;Ljava/lang/String;Ljava/lang/Throwable;)I
    :try_sleep_start
    const-wide/16 v0, 0x2710
    invoke-static {v0, v1}, Ljava/lang/Thread;->sleep(J)V
    :try_sleep_end
    .catch Ljava/lang/InterruptedException; {:try_sleep_start .. :try_sleep_end} :exit
    goto :loop

    :exit
    return-void
.end method

.method public onDestroy()V
    .registers 2
    const/4 v0, 0x1
    iput-boolean v0, p0, Lorg/nostrp2p/server/NostrService;->stopping:Z
    iget-object v0, p0, Lorg/nostrp2p/server/NostrService;->proc:Ljava/lang/Process;
    if-eqz v0, :no_proc
    invoke-virtual {v0}, Ljava/lang/Process;->destroy()V
    :no_proc
    iget-object v0, p0, Lorg/nostrp2p/server/NostrService;->watchdog:Ljava/lang/Thread;
    if-eqz v0, :no_thread
    invoke-virtual {v0}, Ljava/lang/Thread;->interrupt()V
    :no_thread
    iget-object v0, p0, Lorg/nostrp2p/server/NostrService;->wakeLock:Landroid/os/PowerManager$WakeLock;
    if-eqz v0, :no_locks
    invoke-virtual {v0}, Landroid/os/PowerManager$WakeLock;->release()V
    iget-object v0, p0, Lorg/nostrp2p/server/NostrService;->wifiLock:Landroid/net/wifi/WifiManager$WifiLock;
    invoke-virtual {v0}, Landroid/net/wifi/WifiManager$WifiLock;->release()V
    :no_locks
    invoke-super {p0}, Landroid/app/Service;->onDestroy()V
    return-void
.end method

.method private dnsServers()Ljava/lang/String;
    .registers 6
    # locals v0..v4; p0 this. "" when there is no network (any exception).
    new-instance v0, Ljava/lang/StringBuilder;
    invoke-direct {v0}, Ljava/lang/StringBuilder;-><init>()V
    :try_start
    const-string v1, "connectivity"
    invoke-virtual {p0, v1}, Lorg/nostrp2p/server/NostrService;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v1
    check-cast v1, Landroid/net/ConnectivityManager;
    invoke-virtual {v1}, Landroid/net/ConnectivityManager;->getActiveNetwork()Landroid/net/Network;
    move-result-object v2
    invoke-virtual {v1, v2}, Landroid/net/ConnectivityManager;->getLinkProperties(Landroid/net/Network;)Landroid/net/LinkProperties;
    move-result-object v1
    invoke-virtual {v1}, Landroid/net/LinkProperties;->getDnsServers()Ljava/util/List;
    move-result-object v1
    invoke-interface {v1}, Ljava/util/List;->iterator()Ljava/util/Iterator;
    move-result-object v1
    :next
    invoke-interface {v1}, Ljava/util/Iterator;->hasNext()Z
    move-result v2
    if-eqz v2, :try_end
    invoke-interface {v1}, Ljava/util/Iterator;->next()Ljava/lang/Object;
    move-result-object v2
    check-cast v2, Ljava/net/InetAddress;
    invoke-virtual {v0}, Ljava/lang/StringBuilder;->length()I
    move-result v3
    if-lez v3, :first
    const/16 v3, 0x2c
    invoke-virtual {v0, v3}, Ljava/lang/StringBuilder;->append(C)Ljava/lang/StringBuilder;
    :first
    invoke-virtual {v2}, Ljava/net/InetAddress;->getHostAddress()Ljava/lang/String;
    move-result-object v2
    invoke-virtual {v0, v2}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    goto :next
    :try_end
    .catch Ljava/lang/Exception; {:try_start .. :try_end} :failed
    :done
    invoke-virtual {v0}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v0
    return-object v0

    :failed
    move-exception v1
    goto :done
.end method

.method static readLogTail(Landroid/content/Context;)Ljava/lang/String;
    .registers 10
    # locals v0..v8; p0 context. Shows at most the last 3000 bytes of filesDir/nostrp2p.log.
    :try_start
    new-instance v0, Ljava/io/File;
    invoke-virtual {p0}, Landroid/content/Context;->getFilesDir()Ljava/io/File;
    move-result-object v1
    const-string v2, "nostrp2p.log"
    invoke-direct {v0, v1, v2}, Ljava/io/File;-><init>(Ljava/io/File;Ljava/lang/String;)V
    new-instance v2, Ljava/io/RandomAccessFile;
    const-string v3, "r"
    invoke-direct {v2, v0, v3}, Ljava/io/RandomAccessFile;-><init>(Ljava/io/File;Ljava/lang/String;)V
    # v2 = f
    invoke-virtual {v2}, Ljava/io/RandomAccessFile;->length()J
    move-result-wide v3
    # v3:v4 = len
    const-wide/16 v5, 0x0
    const-wide/16 v7, 0xbb8
    cmp-long v0, v3, v7
    # start = len > 3000 ? len - 3000 : 0
    if-lez v0, :seek
    sub-long v5, v3, v7
    :seek
    # v5:v6 = start
    invoke-virtual {v2, v5, v6}, Ljava/io/RandomAccessFile;->seek(J)V
    sub-long v7, v3, v5
    long-to-int v0, v7
    new-array v0, v0, [B
    invoke-virtual {v2, v0}, Ljava/io/RandomAccessFile;->readFully([B)V
    invoke-virtual {v2}, Ljava/io/RandomAccessFile;->close()V

    new-instance v2, Ljava/lang/StringBuilder;
    invoke-direct {v2}, Ljava/lang/StringBuilder;-><init>()V
    const-string v3, "Server log ("
    invoke-virtual {v2, v3}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v1}, Ljava/io/File;->getPath()Ljava/lang/String;
    move-result-object v3
    invoke-virtual {v2, v3}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    const-string v3, "/nostrp2p.log):\n"
    invoke-virtual {v2, v3}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    new-instance v3, Ljava/lang/String;
    const-string v4, "UTF-8"
    invoke-direct {v3, v0, v4}, Ljava/lang/String;-><init>([BLjava/lang/String;)V
    invoke-virtual {v2, v3}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v2}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v0
    :try_end
    .catch Ljava/lang/Exception; {:try_start .. :try_end} :failed
    return-object v0

    :failed
    const-string v0, "No server log yet."
    return-object v0
.end method
