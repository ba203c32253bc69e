"""Log capture keeps each attempt's records without changing the host's root logger."""

from __future__ import annotations

import logging
import logging.config
import threading

from partita.core.run.logcapture import asset_logger, capture


def test_records_of_a_step_are_kept_and_the_root_logger_is_left_as_it_was() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    inside: list[list[logging.Handler]] = []
    with capture() as lines:
        asset_logger("sales/raw").info("fetched %d orders", 3)
        logging.getLogger("a.library").warning("retrying")
        inside.append(list(root.handlers))
    assert root.handlers == before  # only while the step ran
    assert len(inside[0]) == len(before) + 1
    assert [(level, message) for _, level, message in lines] == [
        ("INFO", "fetched 3 orders"),
        ("WARNING", "retrying"),
    ]


def test_steps_at_once_keep_their_own_lines_and_the_handler_goes_after_the_last() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    started, release = threading.Barrier(2), threading.Event()
    found: dict[str, list[str]] = {}

    def step(name: str) -> None:
        with capture() as lines:
            started.wait(timeout=10)
            logging.getLogger("a.library").warning("%s", name)
            if name == "first":
                release.wait(timeout=10)
        found[name] = [message for _, _, message in lines]

    first = threading.Thread(target=step, args=("first",))
    second = threading.Thread(target=step, args=("second",))
    first.start()
    second.start()
    second.join()
    assert len(root.handlers) == len(before) + 1  # the first step still runs
    release.set()
    first.join()
    assert root.handlers == before
    assert found == {"first": ["first"], "second": ["second"]}


def test_records_outside_a_step_are_not_kept() -> None:
    with capture() as lines:
        pass
    logging.getLogger("a.library").warning("after the step")
    assert lines == []


def test_a_host_logging_configuration_does_not_silence_the_step_logs() -> None:
    asset_logger("sales/raw")  # the loggers exist before the host configures logging
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    loggers = [
        (logger, logger.disabled)
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    try:
        logging.config.dictConfig({"version": 1})  # disables every existing logger
        with capture() as lines:
            asset_logger("sales/raw").info("fetched %d orders", 3)
    finally:  # the other tests' loggers as they were
        root.setLevel(level)
        root.handlers[:] = handlers
        for logger, disabled in loggers:
            logger.disabled = disabled
    assert [message for _, _, message in lines] == ["fetched 3 orders"]
