// Starts the server after boot once an owner key has been saved, unless the user stopped it.
package org.nostrp2p.server;

import android.content.BroadcastReceiver;
import android.content.Context;
import android.content.Intent;
import android.content.SharedPreferences;
import android.util.Log;

public class BootReceiver extends BroadcastReceiver {
    @Override
    public void onReceive(Context c, Intent i) {
        if (!"android.intent.action.BOOT_COMPLETED".equals(i.getAction())) {
            return;
        }
        SharedPreferences p = c.getSharedPreferences(NostrService.PREFS, 0);
        if (p.getString("owner", "").length() > 0 && p.getBoolean(NostrService.KEY_ENABLED, true)) {
            String refused = Compat.startForegroundService(c, new Intent(c, NostrService.class));
            if (refused != null) {
                Log.e(NostrService.TAG, "Android refused to start the server after boot: " + refused);
                NostrService.refused(c, refused);
            }
        }
    }
}
