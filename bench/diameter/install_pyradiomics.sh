#!/usr/bin/env bash
# Build pyradiomics 3.1.0 from its PyPI sdist, with its C extensions (_cshape, _cmatrices),
# into a venv on CPython 3.11, for the measured pyradiomics column of bench/diameter/run.sh.
#
#   VENV=/work/venvs/pyrad bench/diameter/install_pyradiomics.sh    # PYTHON=python3.11 by default
#
# The 3.1.0 sdist does not build as shipped; this script changes two things in a temporary
# copy (nothing of pyradiomics is kept in this repository):
#  1. pyproject.toml declares `version = "3.0.1a1"`, so pip rejects the sdist for
#     `pyradiomics==3.1.0` ("inconsistent version"); set it to 3.1.0.
#  2. radiomics/src/cmatrices.h and cshape.h are missing from the sdist (gcc: "cmatrices.h:
#     No such file or directory"). They only declare the functions that cmatrices.c and
#     cshape.c define, so they are written from those definitions' prototypes.
# It is built against numpy<2 with --no-build-isolation (an isolated build would compile
# numpy, cmake and ninja from source). Re-running is a no-op once the venv imports
# radiomics 3.1.0 with its C shape module (FORCE=1 rebuilds).
set -euo pipefail
VENV=${VENV:-/work/venvs/pyrad}
PY=${PYTHON:-python3.11}
SDIST=pyradiomics-3.1.0.tar.gz
SHA256=24722c962a6bbd09bc39c1c67dbffe92435f9692a421fabaae8a6b4511eb48e4

check() {
  "$VENV/bin/python" - <<'EOF'
import radiomics
assert radiomics.cShape is not None and radiomics.cMatrices is not None, "C extensions not loaded"
from radiomics import shape  # noqa: F401
print("pyradiomics %s, C shape module %s" % (radiomics.__version__, radiomics.cShape.__file__))
EOF
}

if [ -z "${FORCE:-}" ] && [ -x "$VENV/bin/python" ] && check 2>/dev/null | grep -q "pyradiomics v\?3\.1\.0"; then
  check
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q "numpy<2" SimpleITK PyWavelets pykwalify six setuptools wheel versioneer

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# `pip download pyradiomics==3.1.0` fails on the version mismatch above, so look up the
# sdist's address in the package index pip uses (simple API, JSON) and download that file
# with pip, which checks the pinned hash.
URL=$("$VENV/bin/python" - "$SDIST" "$SHA256" <<'EOF'
import json, os, ssl, sys, urllib.request
from pip._internal.models.index import PyPI
index = os.environ.get("PIP_INDEX_URL", PyPI.simple_url).rstrip("/")
ctx = ssl.create_default_context(cafile=os.environ.get("PIP_CERT"))
req = urllib.request.Request(index + "/pyradiomics/",
                             headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(req, context=ctx))["files"]
f = next(f for f in files if f["filename"] == sys.argv[1])
assert f["hashes"]["sha256"] == sys.argv[2], f["hashes"]
print(f["url"])
EOF
)
"$VENV/bin/pip" download -q --no-deps --no-build-isolation -d "$WORK" "$URL#sha256=$SHA256"
echo "$SHA256  $WORK/$SDIST" | sha256sum -c --quiet
tar -xzf "$WORK/$SDIST" -C "$WORK"
SRC=$WORK/pyradiomics-3.1.0

# 1. version
sed -i 's/^version = "3\.0\.1a1"$/version = "3.1.0"/' "$SRC/pyproject.toml"
grep -q '^version = "3.1.0"$' "$SRC/pyproject.toml"
# 2. the missing headers: prototypes of the non-static functions each .c file defines
"$VENV/bin/python" - "$SRC/radiomics/src" <<'EOF'
import os, re, sys
for stem in ("cmatrices", "cshape"):
    path = os.path.join(sys.argv[1], stem)
    assert not os.path.exists(path + ".h"), path + ".h exists: the sdist changed, check this script"
    src = open(path + ".c").read()
    protos = [m.group(1).strip() + ";" for m in
              re.finditer(r"^((?:int|double|void)\s+\w+\([^;{)]*\))\s*\{", src, re.M)]
    assert protos, path
    with open(path + ".h", "w") as f:
        f.write("#include <stddef.h>\n" + "\n".join(protos) + "\n")
    print("wrote %s.h: %d prototypes" % (stem, len(protos)))
EOF

(cd "$SRC" && "$VENV/bin/pip" install -q --no-build-isolation .)
# Imported from outside the source tree, so the installed C modules are the ones checked.
(cd / && check)
