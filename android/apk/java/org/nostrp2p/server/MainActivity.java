// The settings screen: owner key, bootstrap peer, listen address; "Save and start" stores them
// and (re)starts the foreground service; below, the tail of the server's log.
// This Java is the source of truth; smali/org/nostrp2p/server/MainActivity.smali is its
// hand-written Dalvik translation (no d8 on the build machine), kept in step by hand.
package org.nostrp2p.server;

import android.app.Activity;
import android.content.Intent;
import android.content.SharedPreferences;
import android.os.Build;
import android.os.Bundle;
import android.view.View;
import android.widget.Button;
import android.widget.EditText;
import android.widget.LinearLayout;
import android.widget.ScrollView;
import android.widget.TextView;

public class MainActivity extends Activity implements View.OnClickListener {
    private EditText owner;
    private EditText bootstrap;
    private EditText listen;
    private TextView status;

    @Override
    protected void onCreate(Bundle saved) {
        super.onCreate(saved);
        SharedPreferences p = getSharedPreferences(NostrService.PREFS, 0);
        LinearLayout l = new LinearLayout(this);
        l.setOrientation(LinearLayout.VERTICAL);
        l.setPadding(32, 32, 32, 32);
        owner = field(l, "Your public key (npub1...)", p.getString("owner", ""));
        bootstrap = field(l, "Bootstrap peer host:port (optional)", p.getString("bootstrap", ""));
        listen = field(l, "Listen address (the client uses port + 1)", p.getString("listen", NostrService.DEFAULT_LISTEN));
        Button save = new Button(this);
        save.setText("Save and start");
        save.setOnClickListener(this);
        l.addView(save);
        status = new TextView(this);
        status.setText(NostrService.readLogTail(this));
        l.addView(status);
        ScrollView s = new ScrollView(this);
        s.addView(l);
        setContentView(s);
        if (Build.VERSION.SDK_INT >= 33) {
            requestPermissions(new String[] {"android.permission.POST_NOTIFICATIONS"}, 1);
        }
    }

    private EditText field(LinearLayout l, String label, String value) {
        TextView t = new TextView(this);
        t.setText(label);
        l.addView(t);
        EditText e = new EditText(this);
        e.setSingleLine(true);
        e.setText(value);
        l.addView(e);
        return e;
    }

    @Override
    public void onClick(View v) {
        getSharedPreferences(NostrService.PREFS, 0).edit()
                .putString("owner", owner.getText().toString().trim())
                .putString("bootstrap", bootstrap.getText().toString().trim())
                .putString("listen", listen.getText().toString().trim())
                .apply();
        startForegroundService(new Intent(this, NostrService.class));
        status.setText("Saved; the server is (re)starting. Client address: http://<this phone's Tailscale IP>:<listen port + 1>\n\n"
                + NostrService.readLogTail(this));
    }
}
