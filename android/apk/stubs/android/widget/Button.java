// Compile-only stub of the Android API (signatures as in the SDK); see build-apk.sh.
package android.widget;
public class Button extends TextView { public Button(android.content.Context c) { super(c); } }
