// Guidance scale, sync mode and what Generate does while a run is going.
import type { Ctx } from "./context";
import { h, setText } from "./dom";
import { bindCheckbox, bindNumber, checkbox, labelled } from "./fields";
import { str } from "./protocol";

/** The guidance slider with its value shown beside it; range, step and default are Python's. */
function guidanceSlider(ctx: Ctx): HTMLElement {
  const label = ctx.label("guidance_scale");
  const spec = ctx.spec("guidance_scale");
  const [wrap, guidance] = labelled(
    label,
    h("input", { type: "range", step: spec?.step ?? "any", class: "kw-grow" }),
  );
  // Not an <output>: that is an implicit role=status, and the widget has one status region.
  const shown = h("span", { class: "kw-value", "aria-hidden": "true" });
  wrap.classList.add("kw-grow");
  wrap.append(shown);
  const fallback = typeof spec?.default === "number" ? spec.default : null;
  bindNumber(ctx, guidance, "guidance_scale", label, { min: null, max: null, integer: false }, fallback);
  const show = (): void => setText(shown, Number(guidance.value).toFixed(1));
  ctx.on(guidance, "input", show);
  ctx.watch(["guidance_scale"], show); // after bindNumber's own watcher has set the value
  ctx.field("guidance_scale", label, guidance);
  return wrap;
}

function busySelect(ctx: Ctx): HTMLElement {
  const label = "If busy, Generate";
  const [wrap, onBusy] = labelled(
    label,
    h(
      "select",
      {},
      h("option", { value: "replace" }, "replaces the running run"),
      h("option", { value: "queue" }, "queues after it"),
    ),
  );
  ctx.on(onBusy, "change", () => ctx.save("on_busy", onBusy.value));
  ctx.watch(["on_busy"], () => {
    onBusy.value = str(ctx.get("on_busy")) === "queue" ? "queue" : "replace";
  });
  ctx.field("on_busy", ctx.label("on_busy", "If busy"), onBusy);
  return wrap;
}

export function settings(ctx: Ctx): HTMLElement {
  const label = ctx.label("sync_mode");
  const [syncWrap, sync] = checkbox(label);
  const wire = ctx.spec("sync_mode")?.name ?? "sync_mode";
  syncWrap.title = `${wire}: the service answers when the image is ready instead of being polled`;
  bindCheckbox(ctx, sync, "sync_mode");
  ctx.field("sync_mode", label, sync);

  return h(
    "fieldset",
    { class: "kw-group" },
    h("legend", { class: "kw-h" }, "Settings"),
    h("div", { class: "kw-row" }, guidanceSlider(ctx)),
    h("div", { class: "kw-row" }, syncWrap, busySelect(ctx)),
  );
}
