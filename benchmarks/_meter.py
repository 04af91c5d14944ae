"""Wall time, process CPU time and peak memory of a measured stretch, for the benchmarks.

Peak memory is the rise of the process's peak RSS (VmHWM) over its RSS when the meter
starts, after resetting the kernel's peak counter (Linux: /proc/self/clear_refs); elsewhere
it is left out (None).
"""

from __future__ import annotations

import os
import time


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class Meter:
    """Wall and process CPU time from here, and the peak RSS rise (VmHWM after a reset)."""

    def __init__(self) -> None:
        self.rss0 = _status("VmRSS") if os.path.exists("/proc/self/status") else 0
        _reset_peak()
        self.cpu0, self.t0 = time.process_time(), time.perf_counter()

    def stop(self) -> dict:
        wall, cpu = time.perf_counter() - self.t0, time.process_time() - self.cpu0
        peak = (_status("VmHWM") - self.rss0) / 2**20 if self.rss0 else None
        return {"wall": wall, "cpu": cpu, "peak_mb": peak}
