"""One engine per home (lock file), and logs that never carry a secret."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from onetill.engine.lock import LOCK_FILENAME, LockHeldError, acquire_lock
from onetill.engine.logs import RedactingFilter, setup_logging


def test_second_lock_on_same_home_is_refused_with_the_holder(tmp_path: Path) -> None:
    with acquire_lock(tmp_path):
        with pytest.raises(LockHeldError) as info:
            acquire_lock(tmp_path)
        message = str(info.value)
        assert str(os.getpid()) in message and str(tmp_path) in message
        assert "--home" in message  # says what to do


def test_lock_is_free_again_after_release(tmp_path: Path) -> None:
    acquire_lock(tmp_path).release()
    with acquire_lock(tmp_path) as lock:
        assert lock.held


def test_stale_lock_from_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    """A process that took the lock and died (kill -9 style) does not block the next start."""
    code = (
        "import os, sys; from pathlib import Path; from onetill.engine.lock import acquire_lock;"
        "acquire_lock(Path(sys.argv[1])); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=30)
    assert (tmp_path / LOCK_FILENAME).read_text().strip().isdigit()  # the dead pid is still there
    with acquire_lock(tmp_path):
        assert (tmp_path / LOCK_FILENAME).read_text().strip() == str(os.getpid())


def test_lock_held_by_another_live_process_is_refused(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path; from onetill.engine.lock import acquire_lock;"
        "acquire_lock(Path(sys.argv[1])); print('locked', flush=True); time.sleep(30)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeldError) as info:
            acquire_lock(tmp_path)
        assert info.value.pid == proc.pid
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """setup_logging changes process-wide loggers; other tests rely on caplog (propagation)."""
    saved = {}
    for name in ("onetill", "uvicorn"):
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.propagate, logger.level)
    yield
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(level)


SECRET = "cs_0123456789abcdef0123456789abcdef01234567"
WEBHOOK_SECRET = "whsec-Zq8xY2vN4mK7pL1o"


def _capture(json_lines: bool) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    setup_logging(json_lines=json_lines, secrets=[SECRET, WEBHOOK_SECRET], stream=stream)
    return logging.getLogger("onetill.test"), stream


@pytest.mark.parametrize("json_lines", [False, True])
def test_known_secrets_never_reach_the_log(json_lines: bool) -> None:
    log, stream = _capture(json_lines)
    log.warning("request to %s failed", f"https://shop.test/?consumer_secret={SECRET}")
    log.info("webhook secret is %s", WEBHOOK_SECRET)
    try:
        raise RuntimeError(f"boom with {SECRET}")
    except RuntimeError:
        log.exception("job failed")
    text = stream.getvalue()
    assert SECRET not in text and WEBHOOK_SECRET not in text
    assert "[redacted]" in text and "job failed" in text


def test_secret_looking_fields_are_redacted_even_when_unknown() -> None:
    redactor = RedactingFilter()
    line = redactor.redact(
        "GET /x?oauth_signature=abc%3D&oauth_nonce=n1 Authorization: Basic Y2s6Y3M= "
        "key cs_unknownsecretvalue123 secret=hunter22"
    )
    assert "abc%3D" not in line and "Y2s6Y3M=" not in line
    assert "cs_unknownsecretvalue123" not in line and "hunter22" not in line
    assert "oauth_nonce=n1" in line  # not a secret: kept for debugging


def test_json_lines_are_json_with_level_and_message() -> None:
    log, stream = _capture(True)
    log.info("store %s", "online")
    record = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert record["level"] == "info" and record["message"] == "store online"
    assert record["logger"] == "onetill.test" and record["time"].endswith("+00:00")


def test_human_lines_are_not_json() -> None:
    log, stream = _capture(False)
    log.info("store online")
    line = stream.getvalue().strip().splitlines()[-1]
    assert "INFO" in line and line.endswith("onetill.test: store online")
