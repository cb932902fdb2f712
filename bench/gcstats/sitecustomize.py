"""Loaded by the benchmark's server processes only (PYTHONPATH=bench/gcstats): records every
garbage-collector pause, and writes them to $BENCH_GC_STATS at exit as [monotonic, gen, ms]."""

import atexit
import gc
import json
import os
import time

_path = os.environ.get("BENCH_GC_STATS")
if _path:
    _pauses: list[tuple[float, int, float]] = []
    _started = [0.0]

    def _record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _started[0] = time.monotonic()
        else:
            _pauses.append((_started[0], info["generation"],
                            (time.monotonic() - _started[0]) * 1000))

    gc.callbacks.append(_record)

    @atexit.register
    def _write() -> None:
        with open(_path, "w") as fh:
            json.dump(_pauses, fh)
