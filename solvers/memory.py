"""How much memory this machine has free for a new allocation."""
import os


def available_memory() -> float:
    """Bytes of memory available to a new allocation (Linux: MemAvailable; else free pages)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
