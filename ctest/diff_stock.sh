#!/usr/bin/env bash
# Differential check: our library (through ctest/tools/mcra.c) and Debian's stock mstmcra (its own
# static libmtcr) on the same simulated device, in one mtcr-sim instance: same output for reads,
# and each sees the other's writes. Env: SIM (mtcr-sim), MCRA (our tool). Run by `make ctest`.
set -u
SIM="${SIM:?}"
MCRA="${MCRA:?}"
if ! command -v mstmcra >/dev/null; then
    if [ "${CI:-}" = true ]; then echo "diff_stock: mstmcra missing" >&2; exit 1; fi
    echo "SKIP: diff_stock needs mstmcra (package mstflint)"; exit 0
fi
inner=$(cat <<'SCRIPT'
set -u
pass=0; fail=0
same() {  # same LABEL ARGS...: stock and ours print the same
    local a b
    a=$(mstmcra "$@" 2>&1); b=$("$MCRA" "$@" 2>&1)
    if [ "$a" = "$b" ] && [ -n "$a" ]; then pass=$((pass+1)); echo "ok - same output: mcra $*";
    else fail=$((fail+1)); echo "not ok - mcra $*"; echo "# stock: $a"; echo "# ours:  $b"; fi
}
expect() {  # expect WANT CMD...: output of CMD is WANT
    local want="$1"; shift; local got; got=$("$@" 2>&1)
    if [ "$got" = "$want" ]; then pass=$((pass+1)); echo "ok - $* -> $want";
    else fail=$((fail+1)); echo "not ok - $* -> '$got' (want '$want')"; fi
}
for dev in 05:00.0 0000:05:00.0 pciconf-0000:05:00.0 /sys/bus/pci/devices/0000:05:00.0/config; do
    same "$dev" 0xf0014
done
same 05:00.0 0xf0000,64
same 05:00.0 0x0,16
same 05:00.0 0xf0014.0:16
same 05:00.0 0xf0014.16:4
"$MCRA" 05:00.0 0x40000 0xa5a50001 && expect 0xa5a50001 mstmcra 05:00.0 0x40000
mstmcra 05:00.0 0x40004 0x5a5a0002 && expect 0x5a5a0002 "$MCRA" 05:00.0 0x40004
"$MCRA" 05:00.0 0x40004.8:8 0xee && expect 0x5a5aee02 mstmcra 05:00.0 0x40004
same 05:00.0 0x40000,8
echo "1..$((pass+fail))"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
SCRIPT
)
MCRA="$MCRA" "$SIM" run -- env MCRA="$MCRA" bash -c "$inner"
