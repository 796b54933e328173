#!/bin/sh
# Debian's own mtcr.py (python_tools dir, not a copy) on a simulated ConnectX-5, once with
# the stock cmtcr.so and once with ours (LD_LIBRARY_PATH=$STAGE/lib/mtcr_ul, installed by
# `make install`): read4/write4, fields, blocks of several sizes, ICMD access registers
# (MGIR get, MPEGC set/get, bad id, bad size, bad opcode). The outputs must be identical,
# apart from which library was loaded.
# usage: SIM=.../mtcr-sim STAGE=build/stage ctest/python_tools.sh
set -eu
: "${SIM:?}" "${STAGE:?}"
here=$(cd "$(dirname "$0")" && pwd)
pydir=/usr/lib/x86_64-linux-gnu/mstflint/python_tools
if [ ! -f "$pydir/mtcr.py" ] || [ ! -f "$pydir/cmtcr.so" ]; then
  echo "python_tools: mstflint python tools not installed" >&2; exit 1
fi
[ -e "$STAGE/lib/mtcr_ul/cmtcr.so" ] || { echo "python_tools: $STAGE/lib/mtcr_ul/cmtcr.so missing" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/sim.toml" <<'TOML'
[[device]]
bdf = "0000:2a:00.0"
model = "connectx5"
TOML
"$SIM" run --config "$tmp/sim.toml" -- sh -c "
  python3 '$here/python_mtcr_check.py' 0000:2a:00.0 > '$tmp/stock.json' &&
  LD_LIBRARY_PATH='$STAGE/lib/mtcr_ul' python3 '$here/python_mtcr_check.py' 0000:2a:00.0 > '$tmp/ours.json'"
python3 - "$tmp/stock.json" "$tmp/ours.json" "$pydir" "$STAGE" <<'PY'
import json, os, sys
stock, ours = (json.load(open(p)) for p in sys.argv[1:3])
pydir, stage = sys.argv[3], os.path.realpath(sys.argv[4])
fails = 0
def check(ok, what):
    global fails
    print(("ok - " if ok else "not ok - ") + what)
    fails += not ok
check(stock["loaded"] == [os.path.realpath(pydir + "/cmtcr.so")], "stock run loaded %s" % stock["loaded"])
check(len(ours["loaded"]) == 1 and ours["loaded"][0].startswith(stage), "our run loaded %s" % ours["loaded"])
for k in sorted(set(stock) | set(ours)):
    if k == "loaded":
        continue
    check(stock.get(k) == ours.get(k), "%s: stock %s, ours %s" % (k, json.dumps(stock.get(k))[:120], json.dumps(ours.get(k))[:120]))
check(ours["mpegc_round_trip"] is True, "ICMD access-register SET/GET round trip")
check(ours["bad_id"]["data"]["status"] == 4, "bad register id: status 4 (REG_NOT_SUPP)")
check(ours["bad_size"]["data"]["status"] == 7, "bad register size: status 7 (BAD_PARAM)")
check(all(b["equal"] for b in ours["blocks"].values()), "block round trips")
print("python_tools: %d failed" % fails)
sys.exit(1 if fails else 0)
PY
