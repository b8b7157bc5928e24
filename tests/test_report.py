"""The HTML reports: self-contained, escaped, and rendered for real in headless Chromium.

Rows here are hand-built sample rows (the same columns `ponder eval` writes), so these tests do
not need a model. The Chromium checks need Debian's `chromium` package
(`apt-get update && apt-get install -y chromium`); without it they are skipped.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import subprocess

import pytest

from ponder.eval.aggregate import compute_metrics, summarize
from ponder.report.compare import render_compare
from ponder.report.html import render_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                                    "(apt-get update && apt-get install -y chromium)")
HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)>'


def synth_rows(seed: int, think_p: float) -> list[dict]:
    """Two tasks x 5 levels x 3 problems x 4 samples; harder levels fail more and think longer."""
    rng, rows = random.Random(seed), []
    for task in ("arith", "grid"):
        for d in range(1, 6):
            for p in range(3):
                for s in range(4):
                    think = rng.random() < think_p
                    correct = rng.random() < 1.0 - 0.12 * d + (0.1 if think else 0.0)
                    n = 8 + (9 * d if think else 0)
                    text = f"<think>{'1+2=3;' * d}</think><answer>{'3' if correct else HOSTILE}</answer>"
                    rows.append(dict(
                        problem_id=f"{task}/d{d}/{p}", task=task, difficulty=d, prompt=f"1+2=? {HOSTILE}", answer="3",
                        sample=s, text=text, pred="3" if correct else str(rng.randint(0, 2)), score=float(correct),
                        correct=correct, num_tokens=n, think_tokens=n - 8 if think else 0, answer_tokens=3,
                        prompt_tokens=6, has_think=think, needed_tokens=n - (d if think else 0), gen_s=0.01,
                        verify_s=0.001, plannable=task == "grid", decomposable=False,
                        plan_parsed=task == "grid" and think, plan_valid=think, plan_goal=think,
                        plan_adherence=0.5 if think else None, decomposition=None))
    return rows


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    d = tmp_path_factory.mktemp("reports")
    a, b = synth_rows(0, 0.5), synth_rows(1, 0.8)
    ma = compute_metrics(a, params=1000, wall_s=2.0, max_new_tokens=64)
    mb = compute_metrics(b, params=1000, wall_s=3.0, max_new_tokens=64)
    (d / "report.html").write_text(render_report(ma, a, title="synthetic A"))
    (d / "compare.html").write_text(render_compare(ma, a, mb, b, ("before", "after")))
    return d, ma, mb


def test_report_is_self_contained_and_escaped(reports):
    d, _, _ = reports
    for name, n_img in (("report.html", 9), ("compare.html", 5)):  # report: 6 + 3 strategy plots (grid plans)
        html = (d / name).read_text()
        srcs = re.findall(r'<img src="([^"]*)"', html)
        assert len(srcs) == n_img and all(s.startswith("data:image/png;base64,") for s in srcs)
        assert "http://" not in html and "https://" not in html and "<script" not in html
    html = (d / "report.html").read_text()
    # model-written text shows up escaped in the overthinking table, never as live markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and HOSTILE not in html
    assert "Worst overthinking examples" in html and "Parallel test-time compute" in html


def test_compare_shows_deltas(reports):
    d, ma, mb = reports
    html = (d / "compare.html").read_text()
    delta = mb["skills"]["accuracy"] - ma["skills"]["accuracy"]
    assert f"{delta:+.3f}" in html
    assert "before" in html and "after" in html


def test_compare_colours_deltas_by_which_way_is_better():
    from ponder.report.compare import _delta

    assert 'class="up">+0.200' in _delta(0.5, 0.7, 1)  # accuracy up: good
    assert 'class="up">-5.000' in _delta(10, 5, -1)  # fewer tokens: good
    assert 'class="down">+5.000' in _delta(5, 10, -1)
    assert 'class="">+0.300' in _delta(0.2, 0.5, 0)  # think rate: depends on the level


def test_summarize_shape():
    rows = synth_rows(0, 0.5)
    s = summarize(rows)
    assert s["accuracy"] == pytest.approx(sum(r["correct"] for r in rows) / len(rows))
    assert sorted(s["by_difficulty"]) == [1, 2, 3, 4, 5]
    level1 = [r for r in rows if r["difficulty"] == 1]
    assert s["by_difficulty"][1]["think_rate"] == pytest.approx(sum(r["has_think"] for r in level1) / len(level1))
    assert set(s["by_difficulty"][1]) == {"accuracy", "think_rate", "mean_tokens", "n"}


def _chromium(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90)


IMG_CHECK = ('<script>window.addEventListener("load",function(){var a=document.images,ok=0;'
             'for(var i=0;i<a.length;i++){if(a[i].complete&&a[i].naturalWidth>0)ok++;}'
             'document.body.setAttribute("data-imgcheck",ok+"/"+a.length);});</script></body>')
PLOT_BLUE = (0x1F, 0x77, 0xB4)  # plots.COLORS[0]; no text or table in the page uses it


@needs_chromium
@pytest.mark.parametrize("name", ["report.html", "compare.html"])
def test_report_renders_in_headless_chromium(reports, tmp_path, name):
    from PIL import Image

    d, _, _ = reports
    html = (d / name).read_text()
    # 1. every <img> decoded: a copy of the page with a tiny load-time check writes a DOM marker
    probe = tmp_path / f"probe-{name}"
    probe.write_text(html.replace("</body>", IMG_CHECK))
    dom = _chromium(["--virtual-time-budget=5000", "--dump-dom", probe.as_uri()], tmp_path).stdout
    m = re.search(r'data-imgcheck="(\d+)/(\d+)"', dom)
    assert m, "the load-time check never ran"
    assert m.group(1) == m.group(2) and int(m.group(2)) >= 5
    # 2. a screenshot of the page itself is not blank and shows plot lines
    shot = tmp_path / "shot.png"
    _chromium([f"--screenshot={shot}", "--window-size=1280,2200", (d / name).as_uri()], tmp_path)
    img = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    assert img.size == (1280, 2200)
    colours = img.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50, "screenshot is (nearly) one colour"
    blue = sum(c for c, (r, g, b) in colours if abs(r - PLOT_BLUE[0]) + abs(g - PLOT_BLUE[1]) + abs(b - PLOT_BLUE[2]) < 24)
    assert blue > 300, f"only {blue} plot-coloured pixels: plots did not render"
