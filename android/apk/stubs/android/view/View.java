// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.view;
public class View { public View(android.content.Context c) {}
  public void setOnClickListener(OnClickListener l) {} public void setPadding(int a, int b, int c, int d) {}
  public interface OnClickListener { void onClick(View v); } }
