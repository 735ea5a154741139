"""The device runtime must work where only a TFLite interpreter is installed."""

import subprocess
import sys
import textwrap

BLOCKER = """
import sys, importlib.abc
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by test)", name=name)
sys.meta_path.insert(0, Block())
"""


def run_python(code: str, blocked: list[str]) -> subprocess.CompletedProcess:
    script = BLOCKER.format(blocked=blocked) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300)


def test_every_runtime_module_imports_without_tensorflow_or_training():
    proc = run_python("""
        import pkgutil, importlib, sys, edge_kws
        for m in pkgutil.walk_packages(edge_kws.__path__, "edge_kws."):
            importlib.import_module(m.name)
        loaded = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "training")]
        assert not loaded, loaded
        print("ok")
    """, blocked=["tensorflow", "keras", "training"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_a_bundle_runs_end_to_end_without_tensorflow(bundle, spoken_data):
    proc = run_python(f"""
        import numpy as np, sys
        from edge_kws.runtime import Classifier, interpreter_class
        from edge_kws.evaluate import evaluate
        assert interpreter_class().__module__.startswith(("ai_edge_litert", "tflite_runtime"))
        report = evaluate(Classifier.from_bundle({str(bundle)!r}), {str(spoken_data)!r}, "testing")
        assert report["n"] > 0
        assert not [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "training")]
        print(report["accuracy"])
    """, blocked=["tensorflow", "keras", "training"])
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.strip().splitlines()[-1]) > 0.5


def test_no_interpreter_at_all_gives_the_pip_command():
    proc = run_python("""
        from edge_kws.runtime import RuntimeMissing, interpreter_class
        try:
            interpreter_class()
        except RuntimeMissing as e:
            print(e)
    """, blocked=["ai_edge_litert", "tflite_runtime", "tensorflow"])
    assert proc.returncode == 0, proc.stderr
    assert "pip install ai-edge-litert" in proc.stdout
    assert "tflite-runtime" in proc.stdout


def test_training_commands_without_tensorflow_say_which_extra_to_install(tmp_path):
    proc = run_python(f"""
        import sys
        from edge_kws.cli import main
        sys.exit(main(["train", "--data", {str(tmp_path)!r}, "--keywords", "yes"]))
    """, blocked=["tensorflow", "keras"])
    assert proc.returncode == 1
    assert "pip install 'edge-kws[train]'" in proc.stderr
    assert "Traceback" not in proc.stderr
