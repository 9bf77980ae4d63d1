"""`grade review`'s refusals before serving anything: no results, a port in use."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.cli.common import EXIT_FAILURE
from grader.errors import ConfigError
from grader.review.server import listen


def test_an_empty_results_file_is_refused(tmp_path: Path, runner: CliRunner) -> None:
    results = tmp_path / "results.jsonl"
    results.write_text("")
    result = runner.invoke(app, ["review", str(results), "--no-browser"])
    assert result.exit_code == EXIT_FAILURE and "no results to review" in result.stderr


def test_a_port_in_use_is_a_config_error_and_the_server_binds_loopback_only() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        with pytest.raises(ConfigError, match="try another --port"):
            listen(taken.getsockname()[1])
    finally:
        taken.close()
    sock = listen(0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1" and sock.getsockname()[1] > 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        assert sock.proto == socket.IPPROTO_TCP  # so asyncio sets TCP_NODELAY on its connections
    finally:
        sock.close()
