"""How fits run: a Ctrl-C stops one between epochs, the threads are
settable and give the same bits, and a forked child fits after its parent."""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import downhill

LONG_FIT = textwrap.dedent(
    """
    import time
    import numpy as np
    import downhill
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100000, 16)).astype(np.float32)
    y = x @ np.ones(16, dtype=np.float32)
    print("ready", flush=True)
    start = time.time()
    try:
        downhill.SGDRegressor(max_iter=1000000, tol=None, learning_rate="constant", eta0=1e-4,
                              batch_size=32).fit(x, y)
        print("finished", time.time() - start, flush=True)
    except KeyboardInterrupt:
        print("interrupted", time.time() - start, flush=True)
    """
)


def test_a_ctrl_c_stops_a_long_fit_between_epochs():
    process = subprocess.Popen(
        [sys.executable, "-c", LONG_FIT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    words = out.split()
    assert words and words[0] == "interrupted", (out, err)
    # A million epochs would take hours: it stopped within seconds.
    assert float(words[1]) < 20.0
    assert process.returncode == 0, err


def fit_coefficients(n_jobs):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20000, 24)).astype(np.float32)
    y = (x @ rng.normal(size=24) > 0).astype(int)
    model = downhill.LogisticRegression(max_iter=50, n_jobs=n_jobs).fit(x, y)
    return model.coef_


def test_the_threads_are_settable_and_give_the_same_bits(monkeypatch):
    one = fit_coefficients(1)
    assert np.array_equal(one, fit_coefficients(2))
    assert np.array_equal(one, fit_coefficients(-1))
    monkeypatch.setenv("DOWNHILL_NUM_THREADS", "1")
    assert np.array_equal(one, fit_coefficients(None))
    monkeypatch.setenv("DOWNHILL_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="DOWNHILL_NUM_THREADS"):
        fit_coefficients(None)
    with pytest.raises(ValueError, match="n_jobs"):
        fit_coefficients(0)


def _fit_in_child(queue):
    queue.put(fit_coefficients(None).tolist())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX's")
def test_a_forked_child_fits_after_its_parent():
    parent = fit_coefficients(None)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_fit_in_child, args=(queue,))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == 0, "the child hung or failed"
    assert np.array_equal(np.asarray(queue.get(timeout=5), dtype=parent.dtype), parent)
