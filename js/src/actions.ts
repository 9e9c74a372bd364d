// The action bar: the cost line (or the sweep's plan line), Generate, "Make new images",
// Cancel and "Retry failed cells"; Ctrl/Cmd+Enter anywhere in the widget is Generate.
import type { Ctx } from "./context";
import { button, h, setText, uid } from "./dom";
import { costLine, freshButton, generateLabel } from "./plan";
import { readPlan } from "./protocol";

export interface ActionParts {
  /** Save every text the user is still typing, before the command goes. */
  flush: () => void;
  /** The sweep's plan line (describes Generate in sweep mode) and its retry button. */
  sweepPlan: HTMLElement;
  retry: HTMLButtonElement;
  /** True while a dialog owns the keyboard. */
  dialogOpen: () => boolean;
}

export function actionBar(ctx: Ctx, parts: ActionParts): HTMLElement {
  const { root } = ctx;
  const generate = button("Generate", {
    class: "kw-primary",
    title: "Generate (Ctrl+Enter / ⌘Enter)",
    "aria-keyshortcuts": "Control+Enter Meta+Enter",
  });
  const cancel = button("Cancel");
  const cost = costLine(ctx);
  cost.id = uid("cost");
  cost.classList.add("kw-single-only");

  const run = (fresh: boolean): void => {
    // Make sure the last keystrokes reached Python before the command does (same comm, in order).
    const active = document.activeElement;
    if (active instanceof HTMLInputElement && root.contains(active) && active.type === "number") {
      active.dispatchEvent(new Event("change", { bubbles: true }));
    }
    parts.flush();
    ctx.send(fresh ? { type: "generate", fresh: true } : { type: "generate" });
  };
  const fresh = freshButton(ctx, run);
  ctx.on(generate, "click", () => run(false));
  ctx.on(cancel, "click", () => ctx.send({ type: "cancel" }));
  ctx.watch(["plan"], () => setText(generate, generateLabel(readPlan(ctx.get("plan")))));
  // Generate is described by what it will do: the cost line, or the sweep's plan line.
  ctx.watch(["mode"], () =>
    generate.setAttribute("aria-describedby", ctx.get("mode") === "sweep" ? parts.sweepPlan.id : cost.id),
  );
  ctx.watch(["busy"], () => {
    cancel.disabled = ctx.get("busy") !== true;
  });
  ctx.on<KeyboardEvent>(root, "keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && !ev.isComposing && !parts.dialogOpen()) {
      ev.preventDefault();
      ev.stopPropagation();
      run(false);
    }
  });
  return h(
    "div",
    { class: "kw-actionbar" },
    cost,
    parts.sweepPlan,
    h("span", { class: "kw-spacer" }),
    generate,
    fresh,
    cancel,
    parts.retry,
  );
}
