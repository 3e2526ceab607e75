"""Check that slimming the venv (files removed, native libraries stripped) broke no native library: every
compiled extension module that imported before must still import after.

    python docker/import-extensions.py record FILE     before: the modules that import, one per line
    python docker/import-extensions.py check FILE      after: fail naming any of them that no longer does

Not every extension module imports on its own (numba's TBB pool needs a library that is not installed, some
SciPy modules only import through their package), hence the comparison rather than a plain import of all.
The modules are imported in the same order both times, in one process, as an application would.
"""
import importlib
import sys
import sysconfig
from pathlib import Path


def importable() -> tuple[list[str], dict[str, str]]:
    "The venv's extension modules that import, and why each of the others does not."
    site = Path(sysconfig.get_paths()["purelib"])
    suffix = sysconfig.get_config_var("EXT_SUFFIX")  # .cpython-311-x86_64-linux-gnu.so
    names = sorted(".".join(p.relative_to(site).parts)[: -len(suffix)] for p in site.rglob(f"*{suffix}"))
    working, failing = [], {}
    for name in names:
        try:
            importlib.import_module(name)
            working.append(name)
        except Exception as error:  # any failure counts; the comparison decides whether it matters
            failing[name] = f"{type(error).__name__}: {error}"
    return working, failing


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("record", "check"):
        sys.exit(__doc__)
    action, path = sys.argv[1], Path(sys.argv[2])
    working, failing = importable()
    if action == "record":
        path.write_text("".join(f"{name}\n" for name in working))
        print(f"{len(working)} extension modules import ({len(failing)} do not on their own)")
    else:
        broken = [f"{name}: {failing[name]}" for name in path.read_text().split() if name in failing]
        if broken:
            sys.exit("extension modules that imported before the removals and no longer do:\n" + "\n".join(broken))
        print(f"{len(working)} extension modules still import after the removals")
