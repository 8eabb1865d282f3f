// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.widget;
public class FrameLayout extends android.view.ViewGroup { public FrameLayout(android.content.Context c) { super(c); } }
