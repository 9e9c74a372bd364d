// Sweep mode: the Mode switch, the axis inputs, the grid pickers, Python's plan line, the
// progress of the running sweep and "Retry failed cells". Python parses and checks every
// axis text (sweep_mode.py) and answers in `sweep_plan` as they change, so nothing is
// duplicated here.
import type { Ctx } from "./context";
import { button, h, setText, uid } from "./dom";
import { bindCheckbox, bindNumber, bindText, labelled } from "./fields";
import {
  ASPECT_RATIOS,
  AXIS_LABELS,
  SWEEP_CONCURRENCY_MAX,
  readSweepProgress,
  str,
  strList,
} from "./protocol";

const isSweep = (ctx: Ctx): boolean => str(ctx.get("mode")) === "sweep";

/** Radio group "Mode" (Single / Sweep); the root gets .kw-sweep-mode in sweep mode. */
export function modeSwitch(ctx: Ctx): HTMLElement {
  const name = uid("mode");
  const legendId = uid("mode-legend");
  const radios = (["single", "sweep"] as const).map((value) =>
    h("input", { type: "radio", name, value }),
  );
  const fieldset = h(
    "fieldset",
    { class: "kw-mode", role: "radiogroup", "aria-labelledby": legendId },
    h("legend", { id: legendId, class: "kw-h" }, "Mode"),
    ...radios.map((r) => h("label", {}, r, r.value === "single" ? "Single" : "Sweep")),
  );
  ctx.field("mode", fieldset);
  ctx.on(fieldset, "change", (ev) => {
    const t = ev.target;
    if (t instanceof HTMLInputElement && t.checked) ctx.save("mode", t.value);
  });
  ctx.watch(["mode"], () => {
    const sweep = isSweep(ctx);
    for (const r of radios) r.checked = r.value === (sweep ? "sweep" : "single");
    ctx.root.classList.toggle("kw-sweep-mode", sweep);
  });
  return fieldset;
}

function textInput(placeholder: string): HTMLInputElement {
  return h("input", { type: "text", placeholder, autocomplete: "off", spellcheck: "false" });
}

function axisSelect(ctx: Ctx, key: "sweep_rows" | "sweep_cols", label: string, none: string): HTMLElement {
  const [wrap, select] = labelled(label, h("select", {}));
  ctx.field(key, select);
  ctx.on(select, "change", () => ctx.save(key, select.value));
  ctx.watch(["sweep_axes", "sweep_rows", "sweep_cols"], () => {
    const axes = strList(ctx.get("sweep_axes"));
    const other = str(ctx.get(key === "sweep_rows" ? "sweep_cols" : "sweep_rows"));
    const value = str(ctx.get(key));
    select.replaceChildren(
      h("option", { value: "" }, none),
      // The other picker's axis is disabled here: one axis cannot go both ways.
      ...axes.map((a) => h("option", { value: a, disabled: a === other }, AXIS_LABELS[a] ?? a)),
    );
    select.value = axes.includes(value) ? value : "";
  });
  return wrap;
}

export interface SweepParts {
  panel: HTMLElement;
  plan: HTMLElement;
  progress: HTMLElement;
  retry: HTMLButtonElement;
  flush: () => void;
}

export function sweepControls(ctx: Ctx): SweepParts {
  const [seedsWrap, seeds] = labelled("Sweep seeds", textInput("e.g. 1-4 · 1, 5, 9 · 4 random"));
  const [guidanceWrap, guidance] = labelled("Sweep guidance", textInput("e.g. 2.0:6.0:0.5 · 2, 3.5, 5"));
  const [promptsWrap, prompts] = labelled(
    "Sweep prompts",
    h("textarea", { rows: 3, placeholder: "One prompt per line; empty: the Prompt above" }),
  );
  const [concWrap, conc] = labelled(
    "Sweep concurrency",
    h("input", { type: "number", step: 1, inputmode: "numeric", class: "kw-small" }),
  );
  const [budgetWrap, budget] = labelled(
    "Budget (USD)",
    h("input", { type: "number", step: 0.5, inputmode: "decimal", class: "kw-small" }),
  );
  const allow = h("input", { type: "checkbox" });
  const [allowWrap] = labelled("Allow over budget", allow, "kw-check");
  allowWrap.prepend(allow);

  const flushes = [
    bindText(ctx, seeds, "sweep_seeds"),
    bindText(ctx, guidance, "sweep_guidance"),
    bindText(ctx, prompts, "sweep_prompts"),
  ];
  bindNumber(ctx, conc, "sweep_concurrency", "Sweep concurrency", {
    min: 1,
    max: SWEEP_CONCURRENCY_MAX,
    integer: true,
    fallback: 2,
  });
  bindNumber(ctx, budget, "sweep_budget", "Budget (USD)", { min: 0, max: 1e6, integer: false, fallback: 5 });
  bindCheckbox(ctx, allow, "sweep_allow_over_budget");
  ctx.field("sweep_seeds", seeds);
  ctx.field("sweep_guidance", guidance);
  ctx.field("sweep_prompts", prompts);
  ctx.field("sweep_concurrency", conc);
  ctx.field("sweep_budget", budget);

  // Aspect ratios: a group of checkboxes; none ticked = the Aspect ratio picker's value.
  const boxes = ASPECT_RATIOS.map((r) => h("input", { type: "checkbox", value: r }));
  const ratios = h(
    "fieldset",
    { class: "kw-ratio-checks" },
    h("legend", { class: "kw-h" }, "Sweep aspect ratios"),
    ...boxes.map((b) => h("label", { class: "kw-check" }, b, b.value)),
  );
  ctx.field("sweep_ratios", ratios);
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

  const panel = h(
    "fieldset",
    { class: "kw-group kw-sweep kw-sweep-only" },
    h("legend", { class: "kw-h" }, "Sweep axes"),
    h(
      "p",
      { class: "kw-hint" },
      "Every combination is one image. An empty axis uses the single-mode control's value.",
    ),
    h("div", { class: "kw-sweep-axes" }, seedsWrap, guidanceWrap),
    ratios,
    promptsWrap,
    h(
      "div",
      { class: "kw-row" },
      concWrap,
      budgetWrap,
      allowWrap,
      axisSelect(ctx, "sweep_cols", "Grid columns", "Last axis"),
      axisSelect(ctx, "sweep_rows", "Grid rows", "All the others"),
    ),
  );

  const plan = h("p", { class: "kw-plan kw-sweep-only", id: uid("plan") });
  ctx.watch(["sweep_plan"], () => {
    const text = str(ctx.get("sweep_plan"));
    setText(plan, text || "Sweep: planning…");
    plan.classList.toggle("kw-over", /^Cannot|above the budget|more than the balance/.test(text));
  });

  const bar = h("progress", { "aria-label": "Sweep progress" });
  const barText = h("span", { id: uid("progress") });
  bar.setAttribute("aria-describedby", barText.id);
  const progress = h("div", { class: "kw-progress kw-sweep-only" }, bar, barText);
  ctx.watch(["sweep_progress"], () => {
    const p = readSweepProgress(ctx.get("sweep_progress"));
    progress.hidden = p === null;
    if (!p) return;
    bar.max = Math.max(1, p.total);
    bar.value = p.done + p.failed;
    setText(barText, p.text);
    progress.dataset.state = p.state;
  });

  const retry = button("Retry failed cells", {
    class: "kw-sweep-only",
    title: "Run the last sweep again: failed cells are submitted again, done cells come from the store",
  });
  ctx.on(retry, "click", () => ctx.send({ type: "retry_failed" }));
  ctx.watch(["sweep_failed", "busy"], () => {
    const failed = Number(ctx.get("sweep_failed")) || 0;
    retry.disabled = failed <= 0 || ctx.get("busy") === true;
    retry.title = failed > 0 ? `Submit the ${failed} failed cell${failed === 1 ? "" : "s"} again` : "No failed cells";
  });

  return { panel, plan, progress, retry, flush: () => flushes.forEach((f) => f()) };
}
