// Guidance scale, sync mode and what Generate does while a run is going.
import type { Ctx } from "./context";
import { h, setText } from "./dom";
import { bindCheckbox, bindNumber, labelled } from "./fields";
import { GUIDANCE_DEFAULT, GUIDANCE_MAX, GUIDANCE_MIN, str } from "./protocol";

export function settings(ctx: Ctx): HTMLElement {
  const [guidanceWrap, guidance] = labelled(
    "Guidance scale",
    h("input", { type: "range", step: 0.1, class: "kw-grow" }),
  );
  // Not an <output>: that is an implicit role=status, and the widget has one status region.
  const shown = h("span", { class: "kw-value", "aria-hidden": "true" });
  guidanceWrap.classList.add("kw-grow");
  guidanceWrap.append(shown);
  bindNumber(ctx, guidance, "guidance_scale", "Guidance scale", {
    min: GUIDANCE_MIN,
    max: GUIDANCE_MAX,
    integer: false,
    fallback: GUIDANCE_DEFAULT,
  });
  const show = (): void => setText(shown, Number(guidance.value).toFixed(1));
  ctx.on(guidance, "input", show);
  ctx.watch(["guidance_scale"], show); // after bindNumber's own watcher has set the value
  ctx.field("guidance_scale", guidance);

  const sync = h("input", { type: "checkbox" });
  const [syncWrap] = labelled("Sync mode", sync, "kw-check");
  syncWrap.prepend(sync);
  syncWrap.title = "enable_sync_mode: the service answers when the image is ready instead of being polled";
  bindCheckbox(ctx, sync, "sync_mode");
  ctx.field("sync_mode", sync);

  const [busyWrap, onBusy] = labelled(
    "If busy, Generate",
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
  ctx.field("on_busy", onBusy);

  return h(
    "fieldset",
    { class: "kw-group" },
    h("legend", { class: "kw-h" }, "Settings"),
    h("div", { class: "kw-row" }, guidanceWrap),
    h("div", { class: "kw-row" }, syncWrap, busyWrap),
  );
}
