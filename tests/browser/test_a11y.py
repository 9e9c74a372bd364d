"""Text contrast of the whole widget in JupyterLab's Light and Dark themes (WCAG AA).

One notebook shows everything that has its own colours at once: the SIMULATED badge, a
finished single run (tiles, labels, actions), a sweep grid with failed cells, the selected
"auto" shape, the plan line and an error alert. Then, in each theme, every visible text node
inside the widget is measured against its effective background (the first non-transparent
background up the tree, with semi-transparent layers composited over it, and the text's own
opacity applied) and every form control's text against its own background. Disabled controls
are exempt (WCAG 1.4.3 leaves inactive components out). The test fails listing each offender
and prints the lowest ratio measured per theme.
"""

from __future__ import annotations

import pytest

from .conftest import OpenNotebook
from .harness import NotebookPage
from .kontext_ui import SETUP_CELL, KontextUI

pytestmark = pytest.mark.browser

THEMES = ("JupyterLab Light", "JupyterLab Dark")

#: A sweep of two prompts x two seeds where one prompt fails in the simulator: failed cells.
SWEEP_CELL = """
w.mode = "sweep"
w.sweep_prompts = "make it blue\\nmake it red [simulate:fail=5003]"
w.sweep_seeds = "1, 2"
"""

# Every visible text in ``root`` with its colour, background and size: a list of offenders
# (below AA) and the lowest ratio seen. Colours are composited (alpha, opacity) in sRGB.
_CONTRAST_JS = """(root) => {
    const parse = (s) => {
        // rgb()/rgba(), or color(srgb r g b / a) as Chromium writes a color-mix() result
        const m = /(rgba?|color)\\(([^)]+)\\)/.exec(s || '');
        if (!m) return null;
        const p = m[2].split(/[\\s,\\/]+/).filter(Boolean);
        if (m[1] === 'color') {
            if (p.shift() !== 'srgb') return null;
            const c = p.map(Number);
            return [c[0] * 255, c[1] * 255, c[2] * 255, c.length > 3 ? c[3] : 1];
        }
        const c = p.map(Number);
        return [c[0], c[1], c[2], c.length > 3 ? c[3] : 1];
    };
    const over = (top, bottom) => {  // top over an opaque bottom
        const a = top[3];
        return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]);
    };
    const lum = (c) => {
        const f = (v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const ratio = (a, b) => {
        const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
        return (hi + 0.05) / (lo + 0.05);
    };
    const background = (el) => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) {
            const c = parse(getComputedStyle(e).backgroundColor);
            if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
        }
        let bg = [255, 255, 255, 1];  // the page's canvas
        for (const layer of layers.reverse()) bg = over(layer, bg);
        return bg;
    };
    const opacity = (el) => {
        let o = 1;
        for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
        return o;
    };
    const visible = (el) => {
        if (!el.getClientRects().length) return false;
        const cs = getComputedStyle(el);
        if (cs.visibility === 'hidden' || cs.display === 'none') return false;
        if (el.closest('[hidden], option, script, style, .kw-offscreen')) return false;
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0;
    };
    const disabled = (el) => !!el.closest(':disabled, [aria-disabled="true"]');
    const items = [];
    const measure = (el, text, pseudo) => {
        // opacity 0: a sweep tile's actions until hover or focus (then measured like any button)
        if (!visible(el) || disabled(el) || opacity(el) < 0.05) return;
        const cs = getComputedStyle(el);
        const fg = parse(pseudo ? getComputedStyle(el, pseudo).color : cs.color);
        if (!fg) {
            items.push({ text, el: el.className, ratio: 0, why: 'colour ' + cs.color });
            return;
        }
        const bg = background(el);
        const fgc = over([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
        const size = parseFloat(cs.fontSize);
        const bold = Number(cs.fontWeight) >= 700;
        const large = size >= 24 || (bold && size >= 18.66);
        items.push({
            text: text.slice(0, 60),
            el: el.tagName.toLowerCase() + '.' + String(el.className).split(' ').join('.'),
            ratio: Math.round(ratio(fgc, bg) * 100) / 100, need: large ? 3 : 4.5,
            fg: pseudo ? getComputedStyle(el, pseudo).color : cs.color,
            bg: 'rgb(' + bg.slice(0, 3).map(Math.round).join(',') + ')',
        });
    };
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = (n.textContent || '').trim();
        if (text && n.parentElement) measure(n.parentElement, text);
    }
    const controls = 'select, textarea, input[type=text], input[type=url], input[type=number]';
    for (const el of root.querySelectorAll(controls)) {
        const text = el.tagName === 'SELECT'
            ? (el.selectedOptions[0] || {}).text || ''
            : el.value || el.placeholder || '';
        const pseudo = el.tagName !== 'SELECT' && !el.value ? '::placeholder' : null;
        if (text.trim()) measure(el, '[' + el.tagName.toLowerCase() + '] ' + text.trim(), pseudo);
    }
    const bad = items.filter((i) => !(i.ratio >= i.need));
    const min = items.reduce((m, i) => Math.min(m, i.ratio), Infinity);
    return { count: items.length, min, bad };
}"""

_SET_THEME_JS = """async (theme) => {
    await window.jupyterapp.commands.execute('apputils:change-theme', { theme });
}"""

_THEME_READY_JS = """(theme) => document.body.dataset.jpThemeName === theme
    && getComputedStyle(document.body).getPropertyValue('--jp-layout-color1').trim() !== ''"""


def _set_theme(nb: NotebookPage, theme: str) -> None:
    nb.page.evaluate(_SET_THEME_JS, theme)
    nb.page.wait_for_function(_THEME_READY_JS, arg=theme, timeout=30_000)
    nb.page.wait_for_timeout(500)  # the theme's stylesheet applies after the attribute


def _show_every_state(ui: KontextUI, image_url: str) -> None:
    """A sweep with failed cells, a finished single run, then an error alert (empty prompt)."""
    ui.add_url_and_wait(image_url)
    ui.generate_button.click()
    ui.wait(
        lambda: (
            ui.root.locator(".kw-progress[data-state]").get_attribute("data-state")
            not in (None, "", "running")
        ),
        "the sweep to end",
    )
    ui.root.get_by_role("radio", name="Single", exact=True).check()
    ui.set_prompt("put the red shoes on her")
    ui.set_number(ui.compare, 2)
    ui.generate_button.click()
    ui.wait(lambda: ui.root.locator('button[aria-label^="Use "]').count() >= 2, "a single run")
    ui.wait(lambda: ui.generate_button.is_enabled(), "Generate enabled after the run")
    ui.set_prompt("")
    ui.generate_button.click()
    ui.wait(lambda: ui.alert_text() != "", "an alert about the empty prompt")


def test_text_contrast_meets_wcag_aa_in_light_and_dark(open_notebook: OpenNotebook) -> None:
    nb = open_notebook(SETUP_CELL.replace("{LATENCY}", "0.1"), SWEEP_CELL)
    ui, setup = KontextUI.start(nb)
    _show_every_state(ui, setup.image_url)
    assert ui.root.get_by_text("SIMULATED", exact=True).first.is_visible()
    assert ui.root.locator(".kw-failed").count() > 0, "no failed sweep cell is shown"
    assert ui.ratio("Service default").is_checked()  # the selected "auto" shape is measured

    stem = nb.name.removesuffix(".ipynb")
    report: dict[str, dict[str, object]] = {}
    try:
        for theme in THEMES:
            _set_theme(nb, theme)
            result = ui.root.evaluate(_CONTRAST_JS)
            nb.screenshot(f"{stem}-{theme.split()[-1].lower()}", ui.root)
            report[theme] = result
            print(f"{theme}: {result['count']} texts, lowest contrast {result['min']:.2f}:1")
    finally:
        _set_theme(nb, THEMES[0])  # later tests on this server expect the default theme
    offenders = [f"{theme}: {bad}" for theme, r in report.items() for bad in r["bad"]]  # type: ignore[attr-defined]
    assert all(r["count"] > 40 for r in report.values()), report  # the widget was measured
    assert not offenders, "texts below WCAG AA:\n" + "\n".join(offenders)


_RATIO_BOXES_JS = """(root) => Array.from(root.querySelectorAll('.kw-ratio')).map((el) => {
    const r = el.getBoundingClientRect();
    return [Math.round(r.left * 10) / 10, Math.round(r.width * 10) / 10];
})"""

_SHOWN_SHAPES_JS = """(root) => Array.from(root.querySelectorAll('.kw-dialog[open] img'), (img) => {
    const r = img.getBoundingClientRect();
    return { natural: img.naturalWidth / img.naturalHeight, shown: r.width / r.height };
})"""


@pytest.mark.parametrize("jupyter", ["lab"], indirect=True)
def test_layout_names_and_alt_texts(open_notebook: OpenNotebook) -> None:
    nb = open_notebook(SETUP_CELL.replace("{LATENCY}", "0.1"), SWEEP_CELL)
    ui, setup = KontextUI.start(nb)
    ui.add_url_and_wait(setup.image_url)  # person.png, 3:4

    # The sweep grid: tiles of at least 200 px; a tile's actions show on hover.
    ui.generate_button.click()
    ui.wait(lambda: ui.root.locator(".kw-sweep-grid .kw-actions").count() >= 2, "sweep done")
    tiles = ui.root.locator('.kw-sweep-grid div[class^="ipyplot-placeholder-div-"]')
    widths = [tiles.nth(i).bounding_box()["width"] for i in range(tiles.count())]  # type: ignore[index]
    assert widths, "no sweep tiles"
    assert min(widths) >= 199, widths
    actions = ui.root.locator(".kw-sweep-grid .kw-actions").first
    assert actions.evaluate("(el) => getComputedStyle(el).opacity") == "0"
    tiles.first.hover()
    ui.wait(lambda: actions.evaluate("(el) => getComputedStyle(el).opacity") == "1", "hover")

    # Choosing a ratio moves nothing in the ratio grid.
    ui.root.get_by_role("radio", name="Single", exact=True).check()
    before = ui.root.evaluate(_RATIO_BOXES_JS)
    ui.ratio("16:9").check()
    assert ui.root.evaluate(_RATIO_BOXES_JS) == before

    # Two runs with the same seed: their buttons say which run they belong to.
    ui.set_prompt("put the red shoes on her")
    ui.set_number(ui.seed, 7)
    if not ui.lock_seed.is_checked():
        ui.lock_seed.check()
    ui.set_number(ui.compare, 1)
    for run in (1, 2):
        ui.generate_button.click()
        use = ui.button(f"Use seed 7 of run {run} as input")
        ui.wait(lambda use=use: use.count() == 1, f"run {run}'s buttons")
        ui.wait(lambda: ui.generate_button.is_enabled(), "Generate enabled after the run")
    names = ui.root.locator("button[aria-label]").evaluate_all(
        "(bs) => bs.map((b) => b.getAttribute('aria-label'))"
    )
    assert len(names) == len(set(names)), sorted(names)
    alts = ui.root.locator(".kw-results img").evaluate_all(
        "(imgs) => imgs.map((i) => i.getAttribute('alt'))"
    )
    assert alts, "no result images"
    assert all(alts), alts

    # The compare view shows the 3:4 input and the 16:9 result each at its own shape.
    ui.button("Compare seed 7 of run 2 with first input").click()
    ui.wait(lambda: ui.root.locator(".kw-dialog[open] .kw-pair-img").count() == 2, "compare")
    ui.wait(lambda: all(s["natural"] > 0 for s in ui.root.evaluate(_SHOWN_SHAPES_JS)), "loaded")
    shapes = ui.root.evaluate(_SHOWN_SHAPES_JS)
    assert all(abs(s["shown"] / s["natural"] - 1) < 0.03 for s in shapes), shapes
    assert abs(shapes[0]["natural"] - 3 / 4) < 0.03, shapes
    assert abs(shapes[1]["natural"] - 16 / 9) < 0.03, shapes
    nb.screenshot(f"{nb.name.removesuffix('.ipynb')}-compare", ui.root)
    nb.page.keyboard.press("Escape")

    # The history names a step's parents by step, not by output key.
    ui.button("Use seed 7 of run 2 as input").click()
    ui.wait(lambda: ui.remove_buttons.count() == 2, "run 2's image among the inputs")
    ui.generate_button.click()
    use3 = ui.button("Use seed 7 of run 3 as input")
    ui.wait(lambda: use3.count() == 1, "run 3's buttons")
    use3.click()
    ui.wait(lambda: ui.remove_buttons.count() == 3, "run 3's image among the inputs")
    ui.button("Show history").click()
    strip = ui.root.get_by_role("list", name="Edit history", exact=True)
    ui.wait(lambda: "step 2 · seed 7" in strip.inner_text(), "step 2 in the history")
    text = " ".join(strip.inner_text().split())
    assert "from person.png, step 1 · seed 7" in text, text
