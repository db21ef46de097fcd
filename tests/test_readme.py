"""The README opens with the two commands, and CI runs the second verbatim."""
import re

from conftest import ROOT


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)
    setup, tests = blocks[0].strip(), blocks[1].strip()
    assert text.index(setup) < text.index(tests) < text.index("## ")
    assert "pipeline run assets/sports2d_demo.mp4" in setup and (ROOT / "assets" / "sports2d_demo.mp4").is_file()
    assert "pytest" in tests
    assert tests in (ROOT / ".ci" / "run").read_text()
    assert (ROOT / "model" / "weights" / "taew.pt").is_file()
