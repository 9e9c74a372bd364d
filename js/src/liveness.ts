// Is a kernel listening to this view? A notebook reopened with saved widget state and no
// kernel, a restarted kernel or a kernel picked after opening all leave a view whose model
// has no comm: Generate would do nothing and Cancel would throw "Cannot send". The view says
// so at once, disables what sends, and stops its timers (Ctx.goOffline).
//
// Also: while this live view is drawn, the saved copy of the results that Python displays
// next to it (a plain HTML output, for saved notebooks; widget/saved_view.py) is hidden.
import type { Ctx } from "./context";
import { h, setText } from "./dom";

/** The parts of ipywidgets' WidgetModel read here (public API of @jupyter-widgets/base). */
interface WidgetModelLike {
  comm?: unknown;
  comm_live?: boolean;
  unset?: (key: string, options: { silent: boolean }) => void;
}
interface KernelLike {
  status?: string;
  statusChanged?: { connect: (fn: () => void) => void; disconnect: (fn: () => void) => void };
}

const GONE = new Set(["dead", "restarting", "autorestarting", "terminating"]);
const PROBE = "_kw_probe";

/** anywidget hands the view a proxy; its change events carry the ipywidgets model itself. */
function widgetModel(ctx: Ctx): WidgetModelLike | null {
  const model = ctx.model as unknown as {
    on: (e: string, f: (m: unknown) => void) => void;
    off: (e: string, f: (m: unknown) => void) => void;
    set: (k: string, v: unknown) => void;
  };
  let found: WidgetModelLike | null = null;
  const grab = (m: unknown): void => {
    if (m && typeof m === "object") found = m as WidgetModelLike;
  };
  model.on(`change:${PROBE}`, grab);
  model.set(PROBE, Date.now());
  model.off(`change:${PROBE}`, grab);
  // Not a trait: removed again (an undefined value is neither sent nor saved).
  (found as WidgetModelLike | null)?.unset?.(PROBE, { silent: true });
  return found;
}

function kernelOf(ctx: Ctx): { known: boolean; kernel: KernelLike | null } {
  const manager = (ctx.model as unknown as { widget_manager?: Record<string, unknown> }).widget_manager;
  if (!manager || !("kernel" in manager)) return { known: false, kernel: null };
  return { known: true, kernel: (manager.kernel as KernelLike | null) ?? null };
}

export const NO_KERNEL =
  "No kernel is connected to this widget (a saved view, or the kernel restarted): " +
  "run its cell again to use it; its runs come back from the store.";

function reason(real: WidgetModelLike | null, kernel: { known: boolean; kernel: KernelLike | null }): string | null {
  if (real && (real.comm_live === false || ("comm" in real && real.comm === undefined))) return NO_KERNEL;
  if (kernel.known && kernel.kernel === null) return NO_KERNEL;
  if (kernel.kernel?.status && GONE.has(kernel.kernel.status)) return NO_KERNEL;
  return null;
}

/** Watch the comm and the kernel; go offline when either is gone. */
export function liveness(ctx: Ctx): void {
  const real = widgetModel(ctx);
  const check = (): void => {
    const why = reason(real, kernelOf(ctx));
    if (why) ctx.goOffline(why);
  };
  // ipywidgets' manager sets comm_live = false on every model when the kernel restarts or dies.
  const onLive = (): void => check();
  (ctx.model as unknown as { on: (e: string, f: () => void) => void }).on("comm_live_update", onLive);
  ctx.scope.add(() =>
    (ctx.model as unknown as { off: (e: string, f: () => void) => void }).off("comm_live_update", onLive),
  );
  const { kernel } = kernelOf(ctx);
  if (kernel?.statusChanged) {
    kernel.statusChanged.connect(check);
    ctx.scope.add(() => kernel.statusChanged?.disconnect(check));
  }
  check();
}

/** The banner that says there is no kernel, shown when the view goes offline. */
export function offlineBanner(ctx: Ctx): HTMLElement {
  const banner = h("p", { class: "kw-offline-note", role: "alert" });
  banner.hidden = true;
  ctx.onOffline((why) => {
    setText(banner, why);
    banner.hidden = false;
    ctx.root.classList.add("kw-offline");
    ctx.root.classList.remove("kw-busy");
    ctx.root.setAttribute("aria-busy", "false");
    for (const el of ctx.root.querySelectorAll<HTMLElement>(".kw-spinner")) el.hidden = true;
    for (const el of ctx.root.querySelectorAll<HTMLButtonElement | HTMLInputElement>(
      ".kw-actionbar button, .kw-controls input, .kw-controls textarea, .kw-controls select, .kw-controls button",
    )) {
      el.disabled = true;
      el.title = why;
    }
  });
  return banner;
}

/** Hide Python's saved copy of the results (by its display id) while this view is drawn. */
export function hideSavedCopy(ctx: Ctx): void {
  const style = h("style", { "data-kw-hides": "saved" });
  ctx.watch(["saved_output"], () => {
    const id = String(ctx.get("saved_output") ?? "");
    const sel = `[data-kw-saved="${CSS.escape(id)}"]`;
    // JupyterLab/Notebook 7: the whole output (its prompt area too); elsewhere the copy itself.
    setText(style, id ? `.jp-OutputArea-child:has(${sel}), ${sel} { display: none !important; }` : "");
  });
  document.head.append(style);
  ctx.scope.add(() => style.remove());
}
