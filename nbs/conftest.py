"""`pytest --nbval nbs/` (`make nbval`): every chapter runs again and its outputs must match the stored ones.

The chapters are stored fully executed (outputs kept so that they read well on GitHub), then cleaned by
nbdev-clean, which blanks every execution count. nbval skips the comparison of a cell without a count, and
refuses a cell that has outputs but no count, so here every code cell counts as run: a cell whose output
changes, appears or disappears fails. What legitimately varies is in `nbval_sanitize.cfg`; a cell whose
output cannot be stable says so with `# NBVAL_IGNORE_OUTPUT` and a comment of why.

Cells that nbdev-test leaves out are left out here too: `#| eval: false`, and the flags of `tst_flags` in
pyproject.toml (`#| slow`), which `nbdev-test --flags slow` runs.
"""
import pytest
from nbdev.config import get_config
from nbval.kernel import RunningKernel
from nbval.plugin import IPyNbCell


def _execute_like_a_notebook(self, cell_input, allow_stdin=None):
    # nbval sends cells with store_history=False, but IPython decides whether a trailing ";" hides a cell's
    # value by reading the last input of the history: `ax.legend();` would print a Legend that Jupyter hides.
    return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)


RunningKernel.execute_cell_input = _execute_like_a_notebook


def _compare_without_empty_streams(self, test, ref, skip_compare=None):
    # A stream that is empty once sanitised held only what may vary (progress bars, warnings), and a bar is
    # not drawn at all when a dataset comes from the cache: such a stream counts as no output, on both sides.
    def kept(outputs):
        return [o for o in outputs if o.get("output_type") != "stream" or self.sanitize(o.get("text", "")).strip()]
    return _compare_outputs(self, kept(test), kept(ref), skip_compare)


_compare_outputs = IPyNbCell.compare_outputs
IPyNbCell.compare_outputs = _compare_without_empty_streams


def directives(source: str) -> set[str]:
    "The nbdev directives at the top of a cell: '#| slow' -> 'slow', '#| eval: false' -> 'eval: false'."
    found = set()
    for line in source.splitlines():
        if not line.startswith("#|"):
            break
        found.add(" ".join(line[2:].split()).lower())
    return found


def pytest_collection_modifyitems(items):
    skipped_flags = set(str(get_config().tst_flags).split())
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or cell.get("cell_type") != "code":
            continue
        if cell.get("execution_count") is None:
            cell["execution_count"] = 1
        found = directives(cell.get("source", ""))
        if "eval: false" in found or found & skipped_flags:
            item.add_marker(pytest.mark.skip(reason="left out by nbdev-test too (#| eval: false or a tst_flags flag)"))
