#!/usr/bin/env bash
# Runs every ctest program inside the simulator, each with the config named on its first line
# ("ctest-config: NAME" -> ctest/configs/NAME.toml). Env: SIM (mtcr-sim binary), BIN (programs),
# VALGRIND=1 to run them under valgrind (definite leaks and memory errors fail; valgrind.supp
# suppresses only known leaks of the stock cmtcr.so some programs load to compare results).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
SIM="${SIM:?SIM=path to mtcr-sim}"
BIN="${BIN:?BIN=directory of the built programs}"
passed=0
failed=0
failures=()
for prog in "$BIN"/*; do
    [ -x "$prog" ] || continue
    name="$(basename "$prog")"
    [ "$name" = demo ] && continue
    src="$here/${name%_static}.c"
    cfg="$(sed -n 's/.*ctest-config: *\([a-z0-9_-]*\).*/\1/p' "$src" | head -n1)"
    cfg="${cfg:-default}"
    wrap=()
    if [ "${VALGRIND:-0}" = 1 ]; then
        wrap=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
              --show-leak-kinds=definite --suppressions="$here/valgrind.supp")
    fi
    echo "### $name (config $cfg)${wrap:+ under valgrind}"
    if MTCR_SIM_BIN="$SIM" "$SIM" run --config "$here/configs/$cfg.toml" -- "${wrap[@]}" "$prog"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
done
echo "ctest programs: ${passed} passed, ${failed} failed${failures:+ (${failures[*]})}"
[ "$failed" -eq 0 ]
