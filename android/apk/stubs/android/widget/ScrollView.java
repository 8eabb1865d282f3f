// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.widget;
public class ScrollView extends FrameLayout { public ScrollView(android.content.Context c) { super(c); } }
