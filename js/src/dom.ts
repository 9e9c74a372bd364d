// Tiny DOM helpers and the per-view Scope that owns every listener, timer and object URL.

type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

/**
 * Create an element. `attrs` keys are attributes ("class", "aria-label", …); `true` sets an
 * empty attribute, `false`/null/undefined leave it out. Text children become text nodes
 * (never HTML).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === true) el.setAttribute(k, "");
    else if (v !== false && v !== null && v !== undefined) el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export function button(text: string, attrs: Attrs = {}): HTMLButtonElement {
  return h("button", { type: "button", ...attrs }, text);
}

let counter = 0;
/** A document-unique id (several views of one model may be on the page). */
export function uid(prefix: string): string {
  counter += 1;
  return `kw-${prefix}-${counter}-${Math.random().toString(36).slice(2, 7)}`;
}

export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function toggle(el: HTMLElement, shown: boolean): void {
  el.hidden = !shown;
}

/** Owns what a view creates, so unmounting leaves nothing behind. */
export class Scope {
  private readonly undo: Array<() => void> = [];
  private readonly urls = new Set<string>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly intervals = new Set<ReturnType<typeof setInterval>>();
  disposed = false;

  on<E extends Event>(
    target: EventTarget,
    type: string,
    fn: (ev: E) => void,
    options?: AddEventListenerOptions,
  ): void {
    const listener = fn as EventListener;
    target.addEventListener(type, listener, options);
    this.undo.push(() => target.removeEventListener(type, listener, options));
  }

  add(undo: () => void): void {
    this.undo.push(undo);
  }

  interval(fn: () => void, ms: number): () => void {
    const id = setInterval(fn, ms);
    this.intervals.add(id);
    return () => {
      clearInterval(id);
      this.intervals.delete(id);
    };
  }

  timeout(fn: () => void, ms: number): () => void {
    const id = setTimeout(() => {
      this.timers.delete(id);
      fn();
    }, ms);
    this.timers.add(id);
    return () => {
      clearTimeout(id);
      this.timers.delete(id);
    };
  }

  objectUrl(blob: Blob): string {
    const url = URL.createObjectURL(blob);
    this.urls.add(url);
    return url;
  }

  revoke(url: string): void {
    if (this.urls.delete(url)) URL.revokeObjectURL(url);
  }

  dispose(): void {
    this.disposed = true;
    for (const fn of this.undo.splice(0).reverse()) {
      try {
        fn();
      } catch {
        /* keep cleaning up */
      }
    }
    for (const id of this.timers) clearTimeout(id);
    for (const id of this.intervals) clearInterval(id);
    this.intervals.clear();
    this.timers.clear();
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls.clear();
  }
}

/**
 * Remember which element inside `container` has focus (by its data-fk key) and give it back
 * after `rebuild` replaced the children; when that element is gone or disabled, ask
 * `fallback` (given the old key) for another one.
 */
export function keepFocus(
  container: HTMLElement,
  rebuild: () => void,
  fallback: (key: string) => HTMLElement | null = () => null,
): void {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && container.contains(active) ? active.dataset.fk : undefined;
  rebuild();
  if (key === undefined) return;
  const same = container.querySelector<HTMLElement>(`[data-fk="${CSS.escape(key)}"]`);
  const target = same && !(same as HTMLButtonElement).disabled ? same : fallback(key);
  target?.focus();
}
