"""An empty command name: `tini-py -- ''` runs nothing, says so in one line
and exits 127 -- what a shell does for `''` (command not found)."""
import pytest

from conftest import MODES, run_tini


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("args", [["--", ""], [""], ["--", "", "arg"], ["-v", "--", ""]])
def test_empty_command_name_exits_127_with_one_line(mode, args):
    result = run_tini(args, mode=mode)
    assert result.returncode == 127, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tini-py: "), result.stderr
    assert "empty" in lines[0], lines[0]
    assert result.stdout == ""
