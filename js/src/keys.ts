// The keys a control uses belong to the widget; Ctrl/Cmd+S belongs to the notebook.
//
// The root carries data-lm-suppress-shortcuts, which keeps the notebook's shortcuts (a, b,
// d d, Ctrl+Enter…) away from our controls, but JupyterLab 4 and Notebook 7 still take arrow
// keys from focused sliders, radios and selects (ArrowDown on a ratio moved to the next
// cell). Notebook 7 listens on the document in the capture phase, so the only place to stop
// them first is the window's capture phase; the browser's own action for the key (move the
// slider) still happens. The same attribute also swallowed Ctrl/Cmd+S: for that one key the
// root drops it until the event has been handled, so the notebook saves.
import type { Ctx } from "./context";

const NAVIGATION = new Set([
  "ArrowUp",
  "ArrowDown",
  "ArrowLeft",
  "ArrowRight",
  "Home",
  "End",
  "PageUp",
  "PageDown",
]);

const isControl = (t: EventTarget | null): boolean =>
  t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement;

export const SUPPRESS = ["data-lm-suppress-shortcuts", "data-p-suppress-shortcuts"] as const;

export function keepKeys(ctx: Ctx): void {
  const { root } = ctx;
  const keep = (ev: KeyboardEvent): void => {
    if (!(ev.target instanceof Node && root.contains(ev.target))) return;
    const accel = ev.ctrlKey || ev.metaKey;
    if (accel && !ev.altKey && !ev.shiftKey && ev.key.toLowerCase() === "s") {
      for (const a of SUPPRESS) root.removeAttribute(a);
      ctx.scope.timeout(() => SUPPRESS.forEach((a) => root.setAttribute(a, "true")), 0);
      return;
    }
    if (!accel && !ev.altKey && NAVIGATION.has(ev.key) && isControl(ev.target)) ev.stopPropagation();
  };
  ctx.on<KeyboardEvent>(window, "keydown", keep, { capture: true });
}
