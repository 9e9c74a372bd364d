// What every part of the view shares: the model, the scope, Python's settings data
// (`field_specs`), sending, error reporting, the alert region (Python's `error` and `problems`
// plus the front end's own refusals) and the request/answer bookkeeping for `full` and `code`.
import { Scope, h, setText, uid } from "./dom";
import {
  type FieldSpec,
  type FromPython,
  type Model,
  type Specs,
  type ToPython,
  type Traits,
  readAnswer,
  readProblems,
  readSpecs,
  str,
} from "./protocol";

/** How long to wait for Python's answer to a fetch_full / fetch_input / copy_code. */
export const ANSWER_TIMEOUT_MS = 15_000;

export interface Answer<T extends FromPython> {
  answer: T;
  buffers: DataView[];
}

type Pending = { resolve: (a: Answer<FromPython>) => void; reject: (e: Error) => void; stop: () => void };
type Ask =
  | { type: "fetch_full"; key: string }
  | { type: "fetch_input"; index: number }
  | { type: "copy_code"; key: string };

export class Ctx {
  readonly scope = new Scope();
  readonly alert: HTMLDivElement;
  /** Labels, limits and choices from Python; set once with the widget, before any view renders. */
  readonly specs: Specs;
  private readonly labels = new Map<string, string>();
  private readonly local = new Map<string, string>();
  private readonly fields = new Map<string, HTMLElement[]>();
  private readonly localInvalid = new Set<string>();
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  /** Why no kernel listens to this view (null while one does): see liveness.ts. */
  offline: string | null = null;
  private readonly offlineFns: Array<(reason: string) => void> = [];

  constructor(
    readonly model: Model,
    readonly root: HTMLElement,
  ) {
    this.specs = readSpecs(model.get("field_specs"));
    this.alert = h("div", { class: "kw-alert", role: "alert", id: uid("alert") });
    this.watch(["error", "problems"], () => this.renderAlerts());
    const onMsg = (content: unknown, buffers: DataView[] | undefined): void => {
      const answer = readAnswer(content);
      const p = answer ? this.pending.get(answer.request_id) : undefined;
      if (!answer || !p) return;
      this.pending.delete(answer.request_id);
      p.stop();
      p.resolve({ answer, buffers: Array.isArray(buffers) ? buffers : [] });
    };
    const handler = this.guard(onMsg);
    model.on("msg:custom", handler);
    this.scope.add(() => model.off("msg:custom", handler));
    this.scope.add(() => {
      for (const p of this.pending.values()) p.stop();
      this.pending.clear();
    });
  }

  get<K extends keyof Traits>(name: K): unknown {
    return this.model.get(name);
  }

  save<K extends keyof Traits>(name: K, value: Traits[K]): void {
    this.model.set(name, value);
    this.model.save_changes();
  }

  send(msg: ToPython, buffers?: ArrayBuffer[]): void {
    if (this.offline !== null) {
      if (msg.type !== "frontend_error") this.say(this.offline);
      return;
    }
    if (msg.type !== "frontend_error") this.clearLocal();
    try {
      this.model.send(msg, undefined, buffers);
    } catch (err) {
      // The comm died with its kernel (a restart): say that, not "Front end error: Cannot send".
      this.goOffline(`The kernel of this widget is gone (${err instanceof Error ? err.message : String(err)}).`);
      if (msg.type !== "frontend_error") this.say(this.offline ?? "");
    }
  }

  /** Run `fn` once when the view loses its kernel (at once if it has). */
  onOffline(fn: (reason: string) => void): void {
    if (this.offline !== null) fn(this.offline);
    else this.offlineFns.push(fn);
  }

  /** No kernel listens any more: every part that sends or counts time stops. */
  goOffline(reason: string): void {
    if (this.offline !== null || this.scope.disposed) return;
    this.offline = reason;
    for (const p of this.pending.values()) {
      p.stop();
      p.reject(new Error(reason));
    }
    this.pending.clear();
    for (const fn of this.offlineFns.splice(0)) this.guard(fn)(reason);
  }

  /** addEventListener through the scope, with the handler guarded. */
  on<E extends Event>(
    target: EventTarget,
    type: string,
    fn: (ev: E) => unknown,
    options?: AddEventListenerOptions,
  ): void {
    this.scope.on<E>(target, type, this.guard(fn), options);
  }

  /** Run `fn` now and whenever one of the traits changes; errors are reported, not thrown. */
  watch(names: Array<keyof Traits>, fn: () => void): void {
    const run = this.guard(fn);
    for (const n of names) {
      const ev = `change:${n}`;
      this.model.on(ev, run);
      this.scope.add(() => this.model.off(ev, run));
    }
    run();
  }

  /** Wrap a handler so that any exception (sync or async) is reported to the user and Python. */
  guard<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => void {
    return (...args: A) => {
      try {
        const r = fn(...args);
        if (r instanceof Promise) r.catch((e: unknown) => this.report(e));
      } catch (e) {
        this.report(e);
      }
    };
  }

  report(err: unknown): void {
    const message = err instanceof Error ? err.message || err.name : String(err);
    console.error("kontext-widgets:", err);
    // The same words Python puts into `error` for a frontend_error, so the two show as one line.
    this.say(`Front end error: ${message}`);
    try {
      this.model.send({ type: "frontend_error", message } satisfies ToPython);
    } catch {
      /* the comm is gone: the visible message is all we can do */
    }
  }

  /**
   * A refusal from the front end, shown in the alert region (and the field marked invalid)
   * until the next command is sent or `unsay(field)`.
   */
  say(message: string, field?: string): void {
    if (this.scope.disposed) return;
    this.local.set(field ?? message, message);
    if (field) this.localInvalid.add(field);
    this.renderAlerts();
  }

  unsay(field: string): void {
    if (this.local.delete(field) || this.localInvalid.delete(field)) {
      this.localInvalid.delete(field);
      this.renderAlerts();
    }
  }

  clearLocal(): void {
    if (!this.local.size && !this.localInvalid.size) return;
    this.local.clear();
    this.localInvalid.clear();
    this.renderAlerts();
  }

  spec(trait: string): FieldSpec | undefined {
    return this.specs.fields[trait];
  }

  /**
   * What the user sees a setting called: Python's label; `fallback` is the front end's own
   * words for a widget-only control (Python sends labels for the request's settings).
   */
  label(trait: string, fallback?: string): string {
    return this.spec(trait)?.label ?? fallback ?? trait;
  }

  /**
   * Register the elements that show a field (the `field` of a problem, for aria-invalid) and
   * the label that problems about it start with.
   */
  field(name: string, label: string, ...els: HTMLElement[]): void {
    this.labels.set(name, label);
    this.fields.set(name, [...(this.fields.get(name) ?? []), ...els]);
  }

  /** "Seed list: …" for a problem {field: "seed_list", message: "seed_list: … / …"}. */
  private problemText(field: string, message: string): string {
    if (!field) return message;
    const rest = message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
    return `${this.labels.get(field) ?? this.label(field)}: ${rest}`;
  }

  renderAlerts(): void {
    const error = str(this.get("error"));
    const problems = readProblems(this.get("problems"));
    const lines: string[] = [];
    if (error) lines.push(error);
    for (const p of problems) lines.push(this.problemText(p.field, p.message));
    for (const m of this.local.values()) if (!lines.includes(m)) lines.push(m);
    const current = Array.from(this.alert.children, (c) => c.textContent ?? "");
    if (current.join("\n") !== lines.join("\n")) {
      this.alert.replaceChildren(...lines.map((l) => h("p", {}, l)));
    }
    const invalid = new Set([...this.localInvalid, ...problems.map((p) => p.field)]);
    const alertId = this.alert.id;
    for (const [name, els] of this.fields) {
      for (const el of els) {
        if (invalid.has(name)) {
          el.setAttribute("aria-invalid", "true");
          if (alertId) el.setAttribute("aria-errormessage", alertId);
        } else {
          el.removeAttribute("aria-invalid");
          el.removeAttribute("aria-errormessage");
        }
      }
    }
  }

  /** Send a request that Python answers with a `full` or `code` message, within 15 s. */
  ask<T extends FromPython>(msg: Ask, what: string): Promise<Answer<T>> {
    this.seq += 1;
    const request_id = `${Date.now().toString(36)}-${this.seq}-${Math.random().toString(36).slice(2, 8)}`;
    return new Promise<Answer<T>>((resolve, reject) => {
      if (this.offline !== null) {
        reject(new Error(this.offline));
        return;
      }
      const stop = this.scope.timeout(() => {
        this.pending.delete(request_id);
        reject(
          new Error(
            `No answer from Python within ${ANSWER_TIMEOUT_MS / 1000} s for ${what}: is the kernel busy or restarted?`,
          ),
        );
      }, ANSWER_TIMEOUT_MS);
      this.pending.set(request_id, {
        resolve: resolve as (a: Answer<FromPython>) => void,
        reject,
        stop,
      });
      this.send({ ...msg, request_id });
    });
  }
}

/** Replace an element's text with a short-lived note ("Copied"). */
export function flash(ctx: Ctx, el: HTMLElement, text: string, ms = 3000): void {
  setText(el, text);
  ctx.scope.timeout(() => {
    if (el.textContent === text) el.textContent = "";
  }, ms);
}
