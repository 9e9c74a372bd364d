// Sweep mode's inputs: the axis texts (Python parses and checks them, sweep_mode.py, and
// answers in `sweep_plan`), the aspect ratios to sweep, concurrency, budget and the grid
// pickers. Axis names and ratios are Python's (`field_specs`).
import type { Ctx } from "./context";
import { h } from "./dom";
import { bindCheckbox, bindNumber, bindText, checkbox, labelled } from "./fields";
import { str, strList } from "./protocol";
import { ratioChoices } from "./ratio";

type AxisText = "sweep_seeds" | "sweep_guidance" | "sweep_prompts";

interface Part {
  wrap: HTMLElement;
  flush: () => void;
}

function axisText(
  ctx: Ctx,
  key: AxisText,
  words: string,
  control: HTMLInputElement | HTMLTextAreaElement,
): Part {
  const label = ctx.label(key, words);
  const [wrap] = labelled(label, control);
  ctx.field(key, label, control);
  return { wrap, flush: bindText(ctx, control, key) };
}

function textInput(placeholder: string): HTMLInputElement {
  return h("input", { type: "text", placeholder, autocomplete: "off", spellcheck: "false" });
}

/** Aspect ratios: a group of checkboxes; none ticked = the Aspect ratio picker's value. */
function ratioChecks(ctx: Ctx): HTMLElement {
  const label = ctx.label("sweep_ratios", "Sweep aspect ratios");
  const boxes = ratioChoices(ctx).map((r) => h("input", { type: "checkbox", value: r }));
  const ratios = h(
    "fieldset",
    { class: "kw-ratio-checks" },
    h("legend", { class: "kw-h" }, label),
    ...boxes.map((b) => h("label", { class: "kw-check" }, b, b.value)),
  );
  ctx.field("sweep_ratios", label, ratios);
  ctx.on(ratios, "change", () =>
    ctx.save(
      "sweep_ratios",
      boxes.filter((b) => b.checked).map((b) => b.value),
    ),
  );
  ctx.watch(["sweep_ratios"], () => {
    const chosen = strList(ctx.get("sweep_ratios"));
    for (const b of boxes) b.checked = chosen.includes(b.value);
  });
  return ratios;
}

function axisSelect(ctx: Ctx, key: "sweep_rows" | "sweep_cols", words: string, none: string): HTMLElement {
  const label = ctx.label(key, words);
  const [wrap, select] = labelled(label, h("select", {}));
  ctx.field(key, label, select);
  ctx.on(select, "change", () => ctx.save(key, select.value));
  ctx.watch(["sweep_axes", "sweep_rows", "sweep_cols"], () => {
    const axes = strList(ctx.get("sweep_axes"));
    const other = str(ctx.get(key === "sweep_rows" ? "sweep_cols" : "sweep_rows"));
    const value = str(ctx.get(key));
    select.replaceChildren(
      h("option", { value: "" }, none),
      // The other picker's axis is disabled here: one axis cannot go both ways.
      ...axes.map((a) => h("option", { value: a, disabled: a === other }, ctx.specs.axes[a] ?? a)),
    );
    select.value = axes.includes(value) ? value : "";
  });
  return wrap;
}

/** Concurrency, budget and "Allow over budget". */
function runLimits(ctx: Ctx): HTMLElement[] {
  const concLabel = ctx.label("sweep_concurrency", "Sweep concurrency");
  const [concWrap, conc] = labelled(
    concLabel,
    h("input", { type: "number", step: 1, inputmode: "numeric", class: "kw-small" }),
  );
  const budgetLabel = ctx.label("sweep_budget", "Budget (USD)");
  const [budgetWrap, budget] = labelled(
    budgetLabel,
    h("input", { type: "number", step: 0.5, inputmode: "decimal", class: "kw-small" }),
  );
  const [allowWrap, allow] = checkbox(ctx.label("sweep_allow_over_budget", "Allow over budget"));
  // At least one cell at a time and a budget of at least $0; the rest is Python's.
  const max = ctx.specs.limits.sweepConcurrencyMax;
  bindNumber(ctx, conc, "sweep_concurrency", concLabel, { min: 1, max, integer: true });
  bindNumber(ctx, budget, "sweep_budget", budgetLabel, { min: 0, max: null, integer: false });
  bindCheckbox(ctx, allow, "sweep_allow_over_budget");
  ctx.field("sweep_concurrency", concLabel, conc);
  ctx.field("sweep_budget", budgetLabel, budget);
  return [concWrap, budgetWrap, allowWrap];
}

export function sweepPanel(ctx: Ctx): { panel: HTMLElement; flush: () => void } {
  const seedsBox = textInput("e.g. 1-4 · 1, 5, 9 · 4 random");
  const seeds = axisText(ctx, "sweep_seeds", "Sweep seeds", seedsBox);
  const guidanceBox = textInput("e.g. 2.0:6.0:0.5 · 2, 3.5, 5");
  const guidance = axisText(ctx, "sweep_guidance", "Sweep guidance", guidanceBox);
  const prompts = axisText(
    ctx,
    "sweep_prompts",
    "Sweep prompts",
    h("textarea", { rows: 3, placeholder: "One prompt per line; empty: the Prompt above" }),
  );
  const panel = h(
    "fieldset",
    { class: "kw-group kw-sweep kw-sweep-only" },
    h("legend", { class: "kw-h" }, "Sweep axes"),
    h(
      "p",
      { class: "kw-hint" },
      "Every combination is one image. An empty axis uses the single-mode control's value.",
    ),
    h("div", { class: "kw-sweep-axes" }, seeds.wrap, guidance.wrap),
    ratioChecks(ctx),
    prompts.wrap,
    h(
      "div",
      { class: "kw-row" },
      ...runLimits(ctx),
      axisSelect(ctx, "sweep_cols", "Grid columns", "Last axis"),
      axisSelect(ctx, "sweep_rows", "Grid rows", "All the others"),
    ),
  );
  return { panel, flush: () => [seeds, guidance, prompts].forEach((a) => a.flush()) };
}
