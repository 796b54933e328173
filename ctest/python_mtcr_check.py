"""Exercise Debian's own mtcr.py (imported from its install directory, never copied) on a
simulated device and print one JSON object with every result. Run once with the stock
cmtcr.so and once with LD_LIBRARY_PATH pointing at our cmtcr.so; the outputs must match.

usage: mtcr_check.py DEVICE
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.environ.get("MTCR_PY_DIR", "/usr/lib/x86_64-linux-gnu/mstflint/python_tools"))
import mtcr  # noqa: E402

SCRATCH = 0x1000  # crspace scratch area used by the tests
MGIR, MPEGC, BAD_ID = 0x9020, 0x9056, 0x9999


def reg_cmd(reg_id, method, payload_dwords):
    """ACCESS_REGISTER mailbox: operation TLV, reg TLV header, register dwords (BE bytes)."""
    dw = [1 << 27 | 4 << 16, reg_id << 16 | method << 8 | 1, 0, 0,
          3 << 27 | (len(payload_dwords) + 1) << 16] + list(payload_dwords)
    return list(b"".join(struct.pack(">I", d) for d in dw))


def reg_result(data):
    dw = [struct.unpack(">I", bytes(data[i:i + 4]))[0] for i in range(0, len(data), 4)]
    return {"status": (dw[0] >> 8) & 0x7f, "r": (dw[1] >> 15) & 1, "reg": dw[5:]}


def icmd(dev, opcode, data):
    try:
        dev.icmdSendCmd(opcode, data, 0)
        return {"ok": True, "data": reg_result(data)}
    except mtcr.CmdIfException as e:
        return {"ok": False, "error": str(e)}


def main():
    dev = mtcr.MstDevice(sys.argv[1])
    out = {"lib": getattr(mtcr.CMTCR, "_name", "")}
    out["hw_id"] = dev.read4(0xf0014)
    out["seed"] = [dev.read4(a) for a in (0x0, 0x4, 0x100, 0x8000, 0xffffc)]
    dev.write4(SCRATCH, 0xdeadbeef)
    out["write4"] = dev.read4(SCRATCH)
    out["field"] = dev.readField(SCRATCH, 8, 8)
    dev.writeField(0x5a, SCRATCH, 16, 8)
    out["write_field"] = dev.read4(SCRATCH)
    blocks = {}
    for n in (1, 2, 3, 16, 64, 65, 256, 1000):
        addr = SCRATCH + 0x100
        data = [(0x01010101 * n + i * 0x11) & 0xffffffff for i in range(n)]
        dev.write4Block(addr, data)
        back = dev.read4Block(addr, n)
        blocks[n] = {"equal": back == data, "sum": sum(back) & 0xffffffff}
    out["blocks"] = blocks
    out["read_block_big"] = sum(dev.read4Block(0x10000, 2048)) & 0xffffffff
    try:
        dev.read4(0x7fffffc)
        out["bad_read"] = "no error"
    except mtcr.MtcrException as e:
        out["bad_read"] = str(e)
    # ICMD access-register round trips.
    out["mgir"] = icmd(dev, 0x9001, reg_cmd(MGIR, 1, [0] * 40))
    if out["mgir"].get("ok"):
        # hw_info.uptime (dword 7) counts the seconds since the device booted: the two runs
        # (stock, ours) read it at different times.
        out["mgir"]["data"]["reg"][7] = "uptime"
    payload = [0xa0000000 + i for i in range(11)]
    out["mpegc_set"] = icmd(dev, 0x9001, reg_cmd(MPEGC, 2, payload))
    got = icmd(dev, 0x9001, reg_cmd(MPEGC, 1, [0] * 11))
    out["mpegc_get"] = got
    out["mpegc_round_trip"] = got.get("data", {}).get("reg") == payload
    out["bad_id"] = icmd(dev, 0x9001, reg_cmd(BAD_ID, 1, [0] * 4))
    out["bad_size"] = icmd(dev, 0x9001, reg_cmd(MGIR, 1, [0] * 4))
    out["bad_opcode"] = icmd(dev, 0x1234, reg_cmd(MGIR, 1, [0] * 4))
    dev.close()
    out.pop("lib")
    # Which cmtcr.so the process really loaded (resolved through symlinks).
    with open("/proc/self/maps") as maps:
        libs = {line.split()[-1] for line in maps if line.rstrip().endswith(".so") or ".so." in line}
    out["loaded"] = sorted(os.path.realpath(x) for x in libs if "cmtcr" in os.path.basename(x) or "libmtcr_ul" in os.path.basename(x))
    print(json.dumps(out, sort_keys=True))


main()
