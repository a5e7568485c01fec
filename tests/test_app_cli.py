"""``mobilegan serve``: options, the loopback default, the warning, the missing-extras message."""

from __future__ import annotations

import argparse
import sys

import pytest

from mobilegan.cli import serve_cmd
from mobilegan.cli.main import build_parser, main


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from tests.conftest import untrained_weights

    return untrained_weights(tmp_path_factory.mktemp("serve"))


def _args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_defaults_bind_loopback_with_the_documented_limits():
    args = _args()
    assert (args.host, args.port, args.backend) == ("127.0.0.1", 8765, "torch")
    assert (args.max_upload_mb, args.max_pixels, args.keep_uploads) == (20.0, 40_000_000, None)
    assert args.func is serve_cmd.run


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True),
                                            ("::1", True), ("[::1]", True), ("0.0.0.0", False),
                                            ("192.168.1.20", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert serve_cmd.is_loopback(host) is loopback


def test_sampling_is_on_by_default_with_torch_only(weights):
    torch_segmenter = serve_cmd.build_segmenter(_args("--weights", str(weights)))
    assert torch_segmenter.samples == serve_cmd.DEFAULT_TORCH_SAMPLES == 8
    single = serve_cmd.build_segmenter(_args("--weights", str(weights), "--samples", "1"))
    assert single.samples == 1


def test_the_page_gives_an_image_the_same_answer_each_time(weights):
    """Unseeded, two uploads of one image could get different flags near the threshold."""
    import numpy as np

    from mobilegan.data.synthetic import draw_lesion

    image = draw_lesion((60, 80), seed=2)[0]
    results = [serve_cmd.build_segmenter(_args("--weights", str(weights))).predict(image)
               for _ in range(2)]
    assert np.array_equal(results[0].probability, results[1].probability)
    assert np.array_equal(results[0].uncertainty, results[1].uncertainty)


def test_serve_warns_off_loopback_and_starts_uvicorn(weights, monkeypatch, capsys, tmp_path):
    import uvicorn

    started = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    code = main(["serve", "--host", "0.0.0.0", "--port", "9999", "--weights", str(weights),
                 "--samples", "2", "--max-upload-mb", "5", "--keep-uploads", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0 and started["host"] == "0.0.0.0" and started["port"] == 9999
    assert "warning: --host 0.0.0.0" in err and "no login" in err
    assert "http://0.0.0.0:9999/" in out and str(tmp_path) in out
    service = started["app"].state.service
    assert service.limits.max_file_bytes == 5 * 1024 * 1024 and service.samples == 2


def test_loopback_serves_without_a_warning(weights, monkeypatch, capsys):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    assert main(["serve", "--weights", str(weights), "--samples", "2"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_missing_web_extras_give_the_install_command(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    assert main(["serve"]) == 2
    assert "pip install -e '.[app]'" in capsys.readouterr().err


def test_missing_weights_are_a_clear_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("MOBILEGAN_WEIGHTS", str(tmp_path / "none.safetensors"))
    assert main(["serve"]) == 2
    assert "weights" in capsys.readouterr().err


def test_a_port_in_use_is_a_one_line_error_before_the_banner(weights, monkeypatch, capsys):
    """The banner announced the page, then uvicorn's own bind error and exit code 3."""
    import socket

    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port), "--weights", str(weights), "--samples", "2"])
    out, err = capsys.readouterr()
    assert code == 2 and not started and "MobileGAN page" not in out
    assert f"cannot serve on 127.0.0.1:{port}" in err and "--port" in err


def test_the_port_probe_binds_as_the_server_does():
    """IPv6 sockets bind v6-only, as asyncio's do: '::' beside a server on 0.0.0.0 of the
    same port was refused though uvicorn would serve there."""
    import socket

    from mobilegan.cli.serve_cmd import check_address_free

    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        try:
            check_address_free("::", port)
        except ValueError as error:
            if "Cannot assign" in str(error) or "not available" in str(error):
                pytest.skip("IPv6 is not configured here")
            raise
        with pytest.raises(ValueError, match=f"cannot serve on 0.0.0.0:{port}"):
            check_address_free("0.0.0.0", port)


def test_a_port_out_of_range_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        _args("--port", "99999")
    assert exit_info.value.code == 2 and "port must be 1-65535" in capsys.readouterr().err


def test_keep_uploads_that_cannot_be_written_stops_before_serving(weights, monkeypatch, capsys,
                                                                  tmp_path):
    """The server must not start saying it keeps uploads while every write would fail."""
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    code = main(["serve", "--weights", str(weights), "--samples", "2",
                 "--keep-uploads", str(a_file)])
    assert code == 2 and not started
    assert "--keep-uploads" in capsys.readouterr().err and a_file.read_text() == "not a folder"
