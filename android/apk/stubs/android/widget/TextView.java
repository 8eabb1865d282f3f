// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.widget;
public class TextView extends android.view.View { public TextView(android.content.Context c) { super(c); }
  public final void setText(CharSequence s) {} public void setSingleLine(boolean b) {} public CharSequence getText() { return null; } }
