#!/usr/bin/env python3
"""patch-fgs-type.py IN.apk OUT.apk — sets the service's android:foregroundServiceType to
specialUse (0x40000000, API 34) in the compiled AndroidManifest.xml.

Why: the only framework resources available on the build machine (Debian's
android-framework-res, API 29) do not know "specialUse", and aapt rejects both the name and a
number for a flag attribute. The source manifest therefore carries all six API-29 flags
(dataSync|mediaPlayback|phoneCall|location|connectedDevice|mediaProjection = 0x3f) as a
placeholder; aapt compiles that to a Res_value {size=8, res0=0, dataType=TYPE_INT_HEX (0x11),
data=0x3f}. This script finds exactly one such value and rewrites its data. Every other zip
entry is copied unchanged (same compression; resources.arsc stays stored).
"""
import struct
import sys
import zipfile

PLACEHOLDER = struct.pack("<HBBI", 8, 0, 0x11, 0x3F)
SPECIAL_USE = struct.pack("<HBBI", 8, 0, 0x11, 0x40000000)


def main(src, dst):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "AndroidManifest.xml":
                n = data.count(PLACEHOLDER)
                if n != 1:
                    sys.exit(f"patch-fgs-type: expected 1 placeholder foregroundServiceType value, found {n}")
                data = data.replace(PLACEHOLDER, SPECIAL_USE)
            zout.writestr(info, data)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
