// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.widget;
public class LinearLayout extends android.view.ViewGroup { public static final int VERTICAL = 1; public LinearLayout(android.content.Context c) { super(c); } public void setOrientation(int o) {} }
