// Starts the server after boot once an owner key has been saved.
// Source of truth for smali/org/nostrp2p/server/BootReceiver.smali.
package org.nostrp2p.server;

import android.content.BroadcastReceiver;
import android.content.Context;
import android.content.Intent;

public class BootReceiver extends BroadcastReceiver {
    @Override
    public void onReceive(Context c, Intent i) {
        if ("android.intent.action.BOOT_COMPLETED".equals(i.getAction())
                && c.getSharedPreferences(NostrService.PREFS, 0).getString("owner", "").length() > 0) {
            c.startForegroundService(new Intent(c, NostrService.class));
        }
    }
}
