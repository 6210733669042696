"""Wall-clock timing helpers for the benchmarks (never used in tests)."""
import time

import numpy as np


def best_of(fn, repeat=5, warmup=1):
    """Smallest wall time of ``repeat`` calls of fn() after ``warmup`` calls, in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def copy_floor(arrays, repeat=5):
    """Time of numpy.copyto over the given state arrays: the memory-bandwidth floor of one pass."""
    targets = [np.empty_like(a) for a in arrays]

    def copy():
        for t, a in zip(targets, arrays):
            np.copyto(t, a)

    return best_of(copy, repeat=repeat)
