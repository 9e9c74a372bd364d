// Front end of kontext-widgets: an anywidget ESM module.
//
// Bundled by `npm run build` (esbuild) into ../kontext_widgets/static/widget.js, which the
// Python widget loads as `_esm`; widget.css next to it is loaded as `_css`.
//
// Traits read from the model (kept in sync with the Python widget):
//   status     string   one-line status shown to the user
//   simulated  boolean  true while the offline simulator answers instead of the real service
import type { Render } from "@anywidget/types";

export interface WidgetModel {
  status: string;
  simulated: boolean;
}

const render: Render<WidgetModel> = ({ model, el }) => {
  const root = document.createElement("div");
  root.className = "kontext-widget";

  const header = document.createElement("div");
  header.className = "kontext-widget__header";

  const status = document.createElement("span");
  status.className = "kontext-widget__status";
  // Announce status changes to screen readers without stealing focus.
  status.setAttribute("role", "status");
  status.setAttribute("aria-live", "polite");

  const badge = document.createElement("span");
  badge.className = "kontext-widget__badge";
  badge.textContent = "SIMULATED";
  badge.title = "No WAVESPEED_API_KEY: results come from the offline simulator, not the real service.";

  header.append(badge, status);
  root.append(header);
  el.replaceChildren(root);

  const update = (): void => {
    // textContent, never innerHTML: the status may echo user input.
    status.textContent = model.get("status") ?? "";
    const simulated = model.get("simulated") === true;
    badge.hidden = !simulated;
    root.classList.toggle("kontext-widget--simulated", simulated);
  };

  update();
  model.on("change:status", update);
  model.on("change:simulated", update);

  return () => {
    model.off("change:status", update);
    model.off("change:simulated", update);
  };
};

export default { render };
