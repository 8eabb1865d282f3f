// The settings screen: owner key, bootstrap peer, listen address and the node authorisation
// (node-auth.json, pasted); "Save and start" stores them and (re)starts the foreground service,
// "Stop" stops it (and start on boot) until the next "Save and start"; below, why the last start
// failed, if it did, and the tail of the server's log.
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
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;

public class MainActivity extends Activity implements View.OnClickListener {
    /** node-auth.json is a few hundred bytes; anything longer than this is not one. */
    static final int MAX_NODE_AUTH_BYTES = 8192;
    static final String NODE_AUTH_FILE = "node-auth.json";

    private EditText owner;
    private EditText bootstrap;
    private EditText listen;
    private EditText nodeAuth;
    private Button save;
    private Button stop;
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
        nodeAuth = field(l, "Node authorisation (optional): paste the contents of node-auth.json "
                + "made by `nostrp2p authorize-node`; empty removes it", readNodeAuth());
        nodeAuth.setSingleLine(false);
        nodeAuth.setMinLines(2);
        save = new Button(this);
        save.setText("Save and start");
        save.setOnClickListener(this);
        l.addView(save);
        stop = new Button(this);
        stop.setText("Stop");
        stop.setOnClickListener(this);
        l.addView(stop);
        status = new TextView(this);
        l.addView(status);
        showStatus("");
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

    private void showStatus(String first) {
        String err = getSharedPreferences(NostrService.PREFS, 0).getString(NostrService.KEY_ERROR, "");
        status.setText(first + (err.length() > 0 ? err + "\n\n" : "") + NostrService.readLogTail(this));
    }

    @Override
    public void onClick(View v) {
        SharedPreferences.Editor e = getSharedPreferences(NostrService.PREFS, 0).edit();
        if (v == stop) {
            e.putBoolean(NostrService.KEY_ENABLED, false).apply();
            stopService(new Intent(this, NostrService.class));
            showStatus("Stopped. It stays off, also after a reboot, until \"Save and start\".\n\n");
            return;
        }
        String authError = writeNodeAuth(nodeAuth.getText().toString().trim());
        e.putString("owner", owner.getText().toString().trim())
                .putString("bootstrap", bootstrap.getText().toString().trim())
                .putString("listen", listen.getText().toString().trim())
                .putBoolean(NostrService.KEY_ENABLED, true)
                .putString(NostrService.KEY_ERROR, "")
                .apply();
        String refused = Compat.startForegroundService(this, new Intent(this, NostrService.class));
        if (refused != null) {
            NostrService.refused(this, refused);
        }
        showStatus((authError != null ? authError + "\n\n" : "")
                + (refused == null ? "Saved; the server is (re)starting. Client address: http://<this phone's Tailscale IP>:<listen port + 1>\n\n" : ""));
    }

    private File nodeAuthFile() {
        return new File(NostrService.dataDir(this), NODE_AUTH_FILE);
    }

    private String readNodeAuth() {
        File f = nodeAuthFile();
        long len = f.length();
        if (len <= 0 || len > MAX_NODE_AUTH_BYTES) {
            return "";
        }
        try {
            FileInputStream in = new FileInputStream(f);
            try {
                byte[] b = new byte[(int) len];
                int off = 0;
                int n;
                while (off < b.length && (n = in.read(b, off, b.length - off)) > 0) {
                    off += n;
                }
                return new String(b, 0, off, "UTF-8");
            } finally {
                in.close();
            }
        } catch (Exception ex) {
            return "";
        }
    }

    /**
     * Replaces node-auth.json in the server's data directory with text (written to a temporary
     * file, then renamed), or removes it when text is empty. The server checks it at start and
     * logs whether it accepted it. Returns an error message, or null.
     */
    private String writeNodeAuth(String text) {
        File f = nodeAuthFile();
        try {
            if (text.length() == 0) {
                if (f.exists() && !f.delete()) {
                    return "Could not remove " + f;
                }
                return null;
            }
            byte[] b = text.getBytes("UTF-8");
            if (b.length > MAX_NODE_AUTH_BYTES || !text.startsWith("{")) {
                return "Node authorisation not saved: paste the whole node-auth.json (a {...} of a few hundred characters).";
            }
            File dir = f.getParentFile();
            if (!dir.isDirectory() && !dir.mkdirs()) {
                return "Could not create " + dir;
            }
            File tmp = new File(dir, NODE_AUTH_FILE + ".tmp");
            FileOutputStream out = new FileOutputStream(tmp);
            try {
                out.write(b);
                out.getFD().sync();
            } finally {
                out.close();
            }
            if (!tmp.renameTo(f)) {
                return "Could not write " + f;
            }
            return null;
        } catch (Exception ex) {
            return "Node authorisation not saved: " + ex;
        }
    }
}
