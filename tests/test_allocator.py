"""cgan.runs.allocator: freed buffers stay in the heap for reuse instead of going back to the OS.

Measured through glibc's own bookkeeping (mallinfo2), not page faults: how many faults a freed and
re-made buffer costs depends on the kernel (transparent huge pages fault 2 MB at a time), so a
fault count is not the same on every machine, while where malloc put a buffer is.
"""

import os
import subprocess
import sys

import pytest

# A 24 MB temporary (a large activation), made and freed: is it mmapped while alive, and how much
# of it is left free in the heap afterwards, ready for the next step?
STEP = """
import ctypes, torch
from cgan.runs.allocator import keep_freed_memory
took = keep_freed_memory()
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
mallinfo = ctypes.CDLL(None).mallinfo2
mallinfo.restype = Info
mapped_before = mallinfo().hblks
temporary = torch.empty(6 * 2**20)  # 24 MB of float32
mapped = mallinfo().hblks - mapped_before
del temporary
print(took, mapped, mallinfo().fordblks >> 20)
"""


def _run(**env: str) -> tuple[str, int, int]:
    took, mapped, free_mb = subprocess.run([sys.executable, "-c", STEP], env={**os.environ, **env},
                                           capture_output=True, text=True, check=True).stdout.split()
    return took, int(mapped), int(free_mb)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator is what is tuned")
def test_tuned_allocator_keeps_a_freed_buffer_in_the_heap_where_glibc_default_unmaps_it():
    took, mapped, free_mb = _run(CGAN_MALLOC_TUNING="1")
    assert took == "True" and mapped == 0 and free_mb >= 24  # served from the heap, and still there to be reused
    took, mapped, free_mb = _run(CGAN_MALLOC_TUNING="0")
    # glibc's default: above its (dynamic, at most 32 MB) mmap threshold -> mmapped, unmapped on free.
    assert took == "False" and mapped == 1 and free_mb < 24
