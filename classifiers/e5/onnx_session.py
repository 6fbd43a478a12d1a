"""How the ONNX encoder runs: session options, and a copy of the graph whose weights ORT maps.

Two things measured on the 2-core machine (docs/benchmarks.md):

* ORT's intra-op threads spin while they wait for work. In a worker they share the cores with
  the event loop and the enrichers, so spinning costs the pipeline about as much as it saves
  the model: spinning is off, and the thread count is a setting (`classifier_threads`; with
  two workers on two cores, one each).
* Loading an .onnx file with the weights inside reads the whole file into memory and then
  copies the weights out of it: the fp32 encoder (470 MB) peaks at ~1.2 GB. ORT memory-maps
  weights kept in a side file instead, and touches only the pages it uses (the 250k-token
  embedding table is mostly never read). `mapped_copy` saves such a copy once, from a child
  process so that the caller's peak memory stays low, next to the original in the cache.

Neither changes a single output value (same graph optimisations, tested bit for bit).

    python -m classifiers.e5.onnx_session SOURCE.onnx TARGET_DIR   # what the child process runs
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

MADV_RANDOM = 1  # <sys/mman.h>
MAPPED_NAME = "model.onnx"  # inside the copy's folder; its weights in model.onnx.data beside it


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def session_options(threads: int = 0):
    """Options for the CPU provider: `threads` intra-op threads (0: one per available core)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or available_cores()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.enable_cpu_mem_arena = True  # buffers reused across batches
    opts.enable_mem_pattern = False  # plans for one input shape; ours changes every batch
    # waiting threads sleep instead of spinning: the cores are shared with the Python threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def open_session(onnx_path: Path, threads: int = 0, mapped: bool = True):
    """An InferenceSession on `onnx_path`, from its memory-mapped copy when one can be made."""
    import onnxruntime as ort

    path = mapped_copy(Path(onnx_path)) if mapped else None
    session = ort.InferenceSession(str(path or onnx_path), session_options(threads), providers=["CPUExecutionProvider"])
    if path is not None:
        advise_random(path.parent)
    return session


def advise_random(folder: Path) -> int:
    """madvise(MADV_RANDOM) on this process's mappings of files in `folder`; returns how many.

    Why: a page fault in a file mapping reads ahead and maps the neighbouring pages too (64 KiB and
    more). The embedding table is read a row (1.5 KiB) here and there, so read-ahead made ~60 % of
    it resident after a few hundred posts; with MADV_RANDOM only the rows' own pages are read.
    Best effort: Linux only, and nothing changes if it fails."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        prefix = str(folder.resolve()) + os.sep
        advised = 0
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and fields[5].startswith(prefix):
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    advised += libc.madvise(start, end - start, MADV_RANDOM) == 0
        return advised
    except (OSError, AttributeError, ValueError):
        return 0


def mapped_path(source: Path) -> Path:
    """Where the mapped copy of `source` lives: named after the source's size, mtime and ORT's version,
    so a re-exported graph or another ORT gets a fresh copy."""
    import onnxruntime as ort

    stat = source.stat()
    return source.parent / f"{source.stem}-mapped-{stat.st_size:x}-{stat.st_mtime_ns:x}-ort{ort.__version__}" / MAPPED_NAME


def mapped_copy(source: Path) -> Path | None:
    """The copy of `source` with its weights in a side file (made once); None if it cannot be made."""
    target = mapped_path(source)
    if target.is_file():
        return target
    partial = target.parent.with_name(f"{target.parent.name}.partial-{os.getpid()}")
    try:
        subprocess.run([sys.executable, "-m", __name__, str(source), str(partial)], check=True,
                       capture_output=True, text=True, timeout=600)
        try:
            partial.rename(target.parent)  # atomic; another process may have won the race
        except OSError:
            if not target.is_file():
                raise
        log.info("memory-mapped copy of the ONNX encoder saved", extra={"path": str(target)})
        _drop_older_copies(source, keep=target.parent)
        return target
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        log.warning("could not save a memory-mapped copy of the ONNX encoder; loading it whole",
                    extra={"source": str(source), "error": f"{exc!r} {detail[-500:]}"})
        return None
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def _drop_older_copies(source: Path, keep: Path) -> None:
    """Copies of an earlier export of the same graph (hundreds of MB each). A process that still
    maps one keeps reading it: unlinked files live on until they are unmapped."""
    for folder in source.parent.glob(f"{source.stem}-mapped-*"):
        if folder != keep and ".partial-" not in folder.name:
            shutil.rmtree(folder, ignore_errors=True)


def save_mapped(source: Path, folder: Path) -> Path:
    """Let ORT save `source` with its basic+extended graph optimisations applied and every weight
    over 1 KiB in `model.onnx.data`, page-aligned so that it can be mapped."""
    import onnxruntime as ort

    folder.mkdir(parents=True, exist_ok=True)
    out = folder / MAPPED_NAME
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.optimized_model_filepath = str(out)
    opts.add_session_config_entry("session.optimized_model_external_initializers_file_name", f"{MAPPED_NAME}.data")
    opts.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(str(source), opts, providers=["CPUExecutionProvider"])
    return out


if __name__ == "__main__":
    save_mapped(Path(sys.argv[1]), Path(sys.argv[2]))
