// Sweep mode: the Mode switch, the axis inputs (sweep-axes.ts), Python's plan line, the
// progress of the running sweep and "Retry failed cells".
import type { Ctx } from "./context";
import { button, h, setText, uid } from "./dom";
import { readSweepProgress, str } from "./protocol";
import { sweepPanel } from "./sweep-axes";

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
  ctx.field("mode", ctx.label("mode", "Mode"), fieldset);
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

export interface SweepParts {
  panel: HTMLElement;
  plan: HTMLElement;
  progress: HTMLElement;
  retry: HTMLButtonElement;
  flush: () => void;
}

/** Python's plan line for the sweep (it describes Generate in sweep mode). */
function planLine(ctx: Ctx): HTMLElement {
  const plan = h("p", { class: "kw-plan kw-sweep-only", id: uid("plan") });
  ctx.watch(["sweep_plan"], () => {
    const text = str(ctx.get("sweep_plan"));
    setText(plan, text || "Sweep: planning…");
    plan.classList.toggle("kw-over", /^Cannot|above the budget|more than the balance/.test(text));
  });
  return plan;
}

function progressBar(ctx: Ctx): HTMLElement {
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
  return progress;
}

function retryButton(ctx: Ctx): HTMLButtonElement {
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
  return retry;
}

export function sweepControls(ctx: Ctx): SweepParts {
  const { panel, flush } = sweepPanel(ctx);
  return { panel, plan: planLine(ctx), progress: progressBar(ctx), retry: retryButton(ctx), flush };
}
