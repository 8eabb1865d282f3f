// Loads and links every class of a jar with the JVM's bytecode verifier (classes on the
// application class path are verified by default), against the API jar given on the class
// path. Used by android/verify-dex.sh on enjarify's translation of classes.dex.
// Exit status: 0 all classes verified, 1 some did not (each printed), 2 usage.
import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.Enumeration;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

public class VerifyJar {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: VerifyJar CLASSES.jar API.jar");
            System.exit(2);
        }
        URL[] path = {new File(args[0]).toURI().toURL(), new File(args[1]).toURI().toURL()};
        int ok = 0;
        int bad = 0;
        try (URLClassLoader cl = new URLClassLoader(path, ClassLoader.getPlatformClassLoader());
                JarFile jar = new JarFile(args[0])) {
            for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements();) {
                String n = e.nextElement().getName();
                if (!n.endsWith(".class")) {
                    continue;
                }
                String name = n.substring(0, n.length() - 6).replace('/', '.');
                try {
                    Class<?> c = Class.forName(name, false, cl);
                    c.getDeclaredMethods(); // links the class, which runs the verifier
                    ok++;
                } catch (Throwable t) {
                    bad++;
                    System.out.println("FAIL " + name + ": " + t);
                }
            }
        }
        System.out.println(ok + " classes verified, " + bad + " failed");
        System.exit(bad == 0 && ok > 0 ? 0 : 1);
    }
}
