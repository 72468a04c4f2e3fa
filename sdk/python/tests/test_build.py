"""python -m autoscaler_sdk.build: the componentize-py command it runs."""

import contextlib
import io
import unittest
from pathlib import Path

from autoscaler_sdk import build

TEMPLATE = Path(__file__).resolve().parents[1] / "template"


class BuildCommandTest(unittest.TestCase):
    def test_builds_against_the_packaged_contract_with_the_policy_and_the_sdk_on_the_path(self):
        cmd = build.command(TEMPLATE, "app", Path("/out/p.wasm"))
        self.assertEqual(cmd[1:5], ["-d", str(build.wit_dir()), "-w", "scaling-policy"])
        self.assertIn("--stub-wasi", cmd)
        paths = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-p"]
        self.assertEqual(paths, [str(TEMPLATE), str(build.sdk_root())])
        self.assertTrue((build.sdk_root() / "autoscaler_sdk" / "__init__.py").is_file())
        self.assertEqual(cmd[-3:], ["app", "-o", "/out/p.wasm"])

    def test_print_names_the_default_output_after_the_folder(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(build.main([str(TEMPLATE), "--print"]), 0)
        self.assertTrue(out.getvalue().strip().endswith(f"app -o {TEMPLATE / 'template.wasm'}"))

    def test_refuses_a_folder_without_the_app_module(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as exit:
            build.main([str(TEMPLATE.parent / "tests")])
        self.assertEqual(exit.exception.code, 2)
        self.assertIn("has no app.py", err.getvalue())


if __name__ == "__main__":
    unittest.main()
