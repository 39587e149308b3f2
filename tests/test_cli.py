"""The command end to end through ``main([...])``: exit codes, streams, formats."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SAMPLES, ZONE
from verify.cli import main

OFFLINE = ["--keys", str(ZONE), "--offline"]


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_verified_exits_zero_and_prints_report() -> None:
    code, out, err = run("check", str(SAMPLES / "verified_rsa_sha256.eml"), *OFFLINE)
    assert code == 0, err
    assert "VERIFIED" in out and "SHA-256" in out and "What it does not prove" in out
    assert err == ""


@pytest.mark.parametrize("name", ["body_tampered.eml", "weak_512bit_key.eml", "missing_key.eml", "unsigned.eml"])
def test_other_verdicts_exit_one(name: str) -> None:
    assert run("check", str(SAMPLES / name), *OFFLINE)[0] == 1


def test_json_one_object_for_one_file_and_list_for_several() -> None:
    code, out, _ = run("check", str(SAMPLES / "verified_ed25519.eml"), *OFFLINE, "--json")
    obj = json.loads(out)
    assert code == 0 and isinstance(obj, dict) and obj["verdict"] == "verified"
    code, out, _ = run("check", *(str(p) for p in sorted(SAMPLES.glob("*.eml"))), *OFFLINE, "--json")
    items = json.loads(out)
    assert code == 1 and isinstance(items, list) and len(items) == len(list(SAMPLES.glob("*.eml")))


def test_bad_input_one_line_exit_two_batch_goes_on(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01binary")
    code, out, err = run("check", str(junk), str(SAMPLES / "verified_rsa_sha256.eml"), *OFFLINE, "--json")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(junk) in lines[0] and "Traceback" not in err
    items = json.loads(out)
    assert items[0]["verdict"] == "error" and items[1]["verdict"] == "verified"


def test_usage_errors_exit_two() -> None:
    assert run()[0] == 2
    code, _, err = run("check", "--timeout", "-1", "x.eml")
    assert code == 2 and "timeout" in err
    code, _, err = run("check", str(SAMPLES / "unsigned.eml"), "--keys", "/nonexistent/keys.zone", "--offline")
    assert code == 2 and "keys.zone" in err and len(err.strip().splitlines()) == 1


def test_html_markdown_and_output_files(tmp_path: Path) -> None:
    page, md, txt = tmp_path / "r.html", tmp_path / "r.md", tmp_path / "r.txt"
    code, out, _ = run("check", str(SAMPLES / "body_tampered.eml"), *OFFLINE, "--html", str(page), "--markdown", str(md), "-o", str(txt))
    assert code == 1 and out == ""
    assert "FAILED" in page.read_text() and "<!DOCTYPE html>" in page.read_text()
    assert "**FAILED**" in md.read_text()
    assert "FAILED" in txt.read_text() and "CHANGED" in txt.read_text()


def test_offline_opens_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[object, ...]] = []
    real = socket.socket

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, *a: object, **k: object) -> None:
            opened.append(a)
            raise AssertionError("--offline opened a socket")

    monkeypatch.setattr(socket, "socket", Spy)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(AssertionError("connect")))
    files = [str(p) for p in sorted(SAMPLES.glob("*.eml"))]
    code, out, err = run("check", *files, "--offline", "--keys", str(ZONE), "--json")
    assert opened == [] and code == 1 and "internal error" not in err
    assert any(i["verdict"] == "unverifiable" for i in json.loads(out))
    # and without key files, offline still asks nobody
    code, out, _ = run("check", str(SAMPLES / "verified_rsa_sha256.eml"), "--offline", "--json")
    assert opened == [] and json.loads(out)["signatures"][0]["reason"] == "key-not-found"


def test_python_dash_m_and_console_script() -> None:
    proc = subprocess.run([sys.executable, "-m", "verify", "check", str(SAMPLES / "verified_rsa_sha256.eml"), *OFFLINE],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "VERIFIED" in proc.stdout
    assert "Traceback" not in proc.stderr
