"""The shipped sample configuration is the generator's current output."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_sample_config_is_up_to_date(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "magna.conf.sample"
    generator = pathlib.Path(sys.executable).parent / "oslo-config-generator"
    subprocess.run([str(generator), "--namespace", "magna", "--namespace", "oslo.policy",
                    "--output-file", str(out)], check=True)
    shipped = (ROOT / "etc" / "magna.conf.sample").read_text()
    assert out.read_text() == shipped, "regenerate etc/magna.conf.sample (see README)"
