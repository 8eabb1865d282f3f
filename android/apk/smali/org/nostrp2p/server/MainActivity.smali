# Hand-written Dalvik for java/org/nostrp2p/server/MainActivity.java (no d8 on the build machine).
.class public Lorg/nostrp2p/server/MainActivity;
.super Landroid/app/Activity;
.source "MainActivity.java"

.implements Landroid/view/View$OnClickListener;

.field private owner:Landroid/widget/EditText;
.field private bootstrap:Landroid/widget/EditText;
.field private listen:Landroid/widget/EditText;
.field private status:Landroid/widget/TextView;

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/app/Activity;-><init>()V
    return-void
.end method

.method protected onCreate(Landroid/os/Bundle;)V
    .registers 10
    # v0 prefs, v1 layout, v2-v4 scratch, v5 button/scrollview
    invoke-super {p0, p1}, Landroid/app/Activity;->onCreate(Landroid/os/Bundle;)V

    const-string v2, "nostrp2p"
    const/4 v3, 0x0
    invoke-virtual {p0, v2, v3}, Lorg/nostrp2p/server/MainActivity;->getSharedPreferences(Ljava/lang/String;I)Landroid/content/SharedPreferences;
    move-result-object v0

    new-instance v1, Landroid/widget/LinearLayout;
    invoke-direct {v1, p0}, Landroid/widget/LinearLayout;-><init>(Landroid/content/Context;)V
    const/4 v2, 0x1
    invoke-virtual {v1, v2}, Landroid/widget/LinearLayout;->setOrientation(I)V
    const/16 v2, 0x20
    invoke-virtual {v1, v2, v2, v2, v2}, Landroid/widget/LinearLayout;->setPadding(IIII)V

    # owner
    const-string v2, "owner"
    const-string v3, ""
    invoke-interface {v0, v2, v3}, Landroid/content/SharedPreferences;->getString(Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v3
    const-string v2, "Your public key (npub1...)"
    invoke-direct {p0, v1, v2, v3}, Lorg/nostrp2p/server/MainActivity;->field(Landroid/widget/LinearLayout;Ljava/lang/String;Ljava/lang/String;)Landroid/widget/EditText;
    move-result-object v2
    iput-object v2, p0, Lorg/nostrp2p/server/MainActivity;->owner:Landroid/widget/EditText;

    # bootstrap
    const-string v2, "bootstrap"
    const-string v3, ""
    invoke-interface {v0, v2, v3}, Landroid/content/SharedPreferences;->getString(Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v3
    const-string v2, "Bootstrap peer host:port (optional)"
    invoke-direct {p0, v1, v2, v3}, Lorg/nostrp2p/server/MainActivity;->field(Landroid/widget/LinearLayout;Ljava/lang/String;Ljava/lang/String;)Landroid/widget/EditText;
    move-result-object v2
    iput-object v2, p0, Lorg/nostrp2p/server/MainActivity;->bootstrap:Landroid/widget/EditText;

    # listen
    const-string v2, "listen"
    const-string v3, "0.0.0.0:20000"
    invoke-interface {v0, v2, v3}, Landroid/content/SharedPreferences;->getString(Ljava/lang/String;Ljava/lang/String;)Ljava/lang/String;
    move-result-object v3
    const-string v2, "Listen address (the client uses port + 1)"
    invoke-direct {p0, v1, v2, v3}, Lorg/nostrp2p/server/MainActivity;->field(Landroid/widget/LinearLayout;Ljava/lang/String;Ljava/lang/String;)Landroid/widget/EditText;
    move-result-object v2
    iput-object v2, p0, Lorg/nostrp2p/server/MainActivity;->listen:Landroid/widget/EditText;

    # button
    new-instance v5, Landroid/widget/Button;
    invoke-direct {v5, p0}, Landroid/widget/Button;-><init>(Landroid/content/Context;)V
    const-string v2, "Save and start"
    invoke-virtual {v5, v2}, Landroid/widget/Button;->setText(Ljava/lang/CharSequence;)V
    invoke-virtual {v5, p0}, Landroid/widget/Button;->setOnClickListener(Landroid/view/View$OnClickListener;)V
    invoke-virtual {v1, v5}, Landroid/widget/LinearLayout;->addView(Landroid/view/View;)V

    # status / log tail
    new-instance v2, Landroid/widget/TextView;
    invoke-direct {v2, p0}, Landroid/widget/TextView;-><init>(Landroid/content/Context;)V
    iput-object v2, p0, Lorg/nostrp2p/server/MainActivity;->status:Landroid/widget/TextView;
    invoke-static {p0}, Lorg/nostrp2p/server/NostrService;->readLogTail(Landroid/content/Context;)Ljava/lang/String;
    move-result-object v3
    invoke-virtual {v2, v3}, Landroid/widget/TextView;->setText(Ljava/lang/CharSequence;)V
    invoke-virtual {v1, v2}, Landroid/widget/LinearLayout;->addView(Landroid/view/View;)V

    new-instance v5, Landroid/widget/ScrollView;
    invoke-direct {v5, p0}, Landroid/widget/ScrollView;-><init>(Landroid/content/Context;)V
    invoke-virtual {v5, v1}, Landroid/widget/ScrollView;->addView(Landroid/view/View;)V
    invoke-virtual {p0, v5}, Lorg/nostrp2p/server/MainActivity;->setContentView(Landroid/view/View;)V

    # Android 13+: ask for the notification permission (the service runs without it).
    sget v2, Landroid/os/Build$VERSION;->SDK_INT:I
    const/16 v3, 0x21
    if-lt v2, v3, :done
    const/4 v2, 0x1
    new-array v3, v2, [Ljava/lang/String;
    const/4 v4, 0x0
    const-string v6, "android.permission.POST_NOTIFICATIONS"
    aput-object v6, v3, v4
    invoke-virtual {p0, v3, v2}, Lorg/nostrp2p/server/MainActivity;->requestPermissions([Ljava/lang/String;I)V

    :done
    return-void
.end method

.method private field(Landroid/widget/LinearLayout;Ljava/lang/String;Ljava/lang/String;)Landroid/widget/EditText;
    .registers 7
    # p1 layout, p2 label, p3 value
    new-instance v0, Landroid/widget/TextView;
    invoke-direct {v0, p0}, Landroid/widget/TextView;-><init>(Landroid/content/Context;)V
    invoke-virtual {v0, p2}, Landroid/widget/TextView;->setText(Ljava/lang/CharSequence;)V
    invoke-virtual {p1, v0}, Landroid/widget/LinearLayout;->addView(Landroid/view/View;)V
    new-instance v1, Landroid/widget/EditText;
    invoke-direct {v1, p0}, Landroid/widget/EditText;-><init>(Landroid/content/Context;)V
    const/4 v2, 0x1
    invoke-virtual {v1, v2}, Landroid/widget/EditText;->setSingleLine(Z)V
    invoke-virtual {v1, p3}, Landroid/widget/EditText;->setText(Ljava/lang/CharSequence;)V
    invoke-virtual {p1, v1}, Landroid/widget/LinearLayout;->addView(Landroid/view/View;)V
    return-object v1
.end method

.method private text(Landroid/widget/EditText;)Ljava/lang/String;
    .registers 3
    # = e.getText().toString().trim()
    invoke-virtual {p1}, Landroid/widget/EditText;->getText()Landroid/text/Editable;
    move-result-object v0
    invoke-virtual {v0}, Ljava/lang/Object;->toString()Ljava/lang/String;
    move-result-object v0
    invoke-virtual {v0}, Ljava/lang/String;->trim()Ljava/lang/String;
    move-result-object v0
    return-object v0
.end method

.method public onClick(Landroid/view/View;)V
    .registers 8
    const-string v0, "nostrp2p"
    const/4 v1, 0x0
    invoke-virtual {p0, v0, v1}, Lorg/nostrp2p/server/MainActivity;->getSharedPreferences(Ljava/lang/String;I)Landroid/content/SharedPreferences;
    move-result-object v0
    invoke-interface {v0}, Landroid/content/SharedPreferences;->edit()Landroid/content/SharedPreferences$Editor;
    move-result-object v0

    iget-object v2, p0, Lorg/nostrp2p/server/MainActivity;->owner:Landroid/widget/EditText;
    invoke-direct {p0, v2}, Lorg/nostrp2p/server/MainActivity;->text(Landroid/widget/EditText;)Ljava/lang/String;
    move-result-object v2
    const-string v1, "owner"
    invoke-interface {v0, v1, v2}, Landroid/content/SharedPreferences$Editor;->putString(Ljava/lang/String;Ljava/lang/String;)Landroid/content/SharedPreferences$Editor;

    iget-object v2, p0, Lorg/nostrp2p/server/MainActivity;->bootstrap:Landroid/widget/EditText;
    invoke-direct {p0, v2}, Lorg/nostrp2p/server/MainActivity;->text(Landroid/widget/EditText;)Ljava/lang/String;
    move-result-object v2
    const-string v1, "bootstrap"
    invoke-interface {v0, v1, v2}, Landroid/content/SharedPreferences$Editor;->putString(Ljava/lang/String;Ljava/lang/String;)Landroid/content/SharedPreferences$Editor;

    iget-object v2, p0, Lorg/nostrp2p/server/MainActivity;->listen:Landroid/widget/EditText;
    invoke-direct {p0, v2}, Lorg/nostrp2p/server/MainActivity;->text(Landroid/widget/EditText;)Ljava/lang/String;
    move-result-object v2
    const-string v1, "listen"
    invoke-interface {v0, v1, v2}, Landroid/content/SharedPreferences$Editor;->putString(Ljava/lang/String;Ljava/lang/String;)Landroid/content/SharedPreferences$Editor;

    invoke-interface {v0}, Landroid/content/SharedPreferences$Editor;->apply()V

    new-instance v0, Landroid/content/Intent;
    const-class v1, Lorg/nostrp2p/server/NostrService;
    invoke-direct {v0, p0, v1}, Landroid/content/Intent;-><init>(Landroid/content/Context;Ljava/lang/Class;)V
    invoke-virtual {p0, v0}, Lorg/nostrp2p/server/MainActivity;->startForegroundService(Landroid/content/Intent;)Landroid/content/ComponentName;

    new-instance v0, Ljava/lang/StringBuilder;
    invoke-direct {v0}, Ljava/lang/StringBuilder;-><init>()V
    const-string v1, "Saved; the server is (re)starting. Client address: http://<this phone\'s Tailscale IP>:<listen port + 1>\n\n"
    invoke-virtual {v0, v1}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-static {p0}, Lorg/nostrp2p/server/NostrService;->readLogTail(Landroid/content/Context;)Ljava/lang/String;
    move-result-object v1
    invoke-virtual {v0, v1}, Ljava/lang/StringBuilder;->append(Ljava/lang/String;)Ljava/lang/StringBuilder;
    invoke-virtual {v0}, Ljava/lang/StringBuilder;->toString()Ljava/lang/String;
    move-result-object v0
    iget-object v1, p0, Lorg/nostrp2p/server/MainActivity;->status:Landroid/widget/TextView;
    invoke-virtual {v1, v0}, Landroid/widget/TextView;->setText(Ljava/lang/CharSequence;)V
    return-void
.end method
