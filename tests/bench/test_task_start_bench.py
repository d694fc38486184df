"""`bench/task_start.py`'s fork measure: a child that only exits is forked and reaped, its CPU
and page faults counted (`wait4`), and the parent's memory is read. Timings are never asserted."""

from conftest import load_bench


def _bench():
    return load_bench("task_start.py")


def test_fork_exit_reports_the_fork_and_the_child():
    bench = _bench()
    result = bench.fork_exit()
    assert set(result) == {"fork_wall_s", "fork_cpu_s", "cpu_s", "minflt"}
    assert result["fork_wall_s"] > 0 and result["fork_cpu_s"] >= 0 and result["cpu_s"] >= 0
    # the child wrote to pages it shared with this process (at least its stack): faults counted
    assert result["minflt"] > 0


def test_memory_reads_this_process_anonymous_memory_and_page_tables():
    bench = _bench()
    before = bench.memory()
    hold = bytearray(64 << 20)  # 64 MB, written: resident anonymous memory
    hold[::4096] = b"x" * len(hold[::4096])
    after = bench.memory()
    assert set(after) == {"anon_mb", "page_tables_mb"}
    assert after["anon_mb"] - before["anon_mb"] >= 60
    assert after["page_tables_mb"] > 0
    del hold
