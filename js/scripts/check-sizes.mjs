// House size rules for the front end: no TypeScript file over 400 lines, no function over 80
// (a function's lines include its nested closures, as for Python). Run by `npm run typecheck`.
//
// TypeScript 7 ships no JS compiler API, so this is a small tokenizer (strings, templates,
// comments, regex literals skipped) that finds function bodies: `=> {`, and `(…) {` or
// `(…): Type {` not after if/for/while/switch/catch. It checks itself first on tricky samples,
// so a scanner that stopped seeing functions fails instead of passing everything.
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 80;
const CONTROL = new Set(["if", "for", "while", "switch", "catch", "with"]);
const KEYWORDS_BEFORE_REGEX = new Set(["return", "typeof", "case", "in", "of", "delete", "void", "throw", "else"]);
const PUNCT = ["=>", "...", "?.", "??", "&&", "||", "==", "!=", "<=", ">="];

/** Tokens of a TS source: {t: text, k: "id" | "num" | "str" | "p" (punctuation), line}. */
export function tokenize(src) {
  const out = [];
  const modes = []; // "{" for a brace, "${" for a template expression
  let i = 0;
  let line = 1;
  const push = (t, k) => out.push({ t, k, line });
  const count = (from, to) => {
    for (let j = from; j < to; j++) if (src[j] === "\n") line++;
  };
  const template = () => {
    // src[i] is just after "`" or after the "}" closing a "${": scan to "`" or "${"
    const start = i;
    while (i < src.length && src[i] !== "`" && !(src[i] === "$" && src[i + 1] === "{")) i += src[i] === "\\" ? 2 : 1;
    count(start, i);
    if (src[i] === "`") i++;
    else if (i < src.length) {
      i += 2;
      modes.push("${");
    }
    push("`", "str");
  };
  while (i < src.length) {
    const c = src[i];
    const next = src[i + 1];
    if (c === "\n") { line++; i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (c === "/" && next === "/") { while (i < src.length && src[i] !== "\n") i++; continue; }
    if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? src.length : end + 2;
      count(i, stop);
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
      i = j + 1;
      push("''", "str");
      continue;
    }
    if (c === "`") { i++; template(); continue; }
    if (c === "/" && regexAllowed(out[out.length - 1])) { i = skipRegex(src, i); push("/re/", "str"); continue; }
    const word = /^[A-Za-z_$][\w$]*/.exec(src.slice(i, i + 200));
    if (word) { push(word[0], "id"); i += word[0].length; continue; }
    const number = /^\d[\w.]*/.exec(src.slice(i, i + 60));
    if (number) { push(number[0], "num"); i += number[0].length; continue; }
    if (c === "}" && modes[modes.length - 1] === "${") { modes.pop(); i++; template(); continue; }
    if (c === "{") modes.push("{");
    if (c === "}") modes.pop();
    const p = PUNCT.find((s) => src.startsWith(s, i)) ?? c;
    push(p, "p");
    i += p.length;
  }
  return out;
}

function regexAllowed(prev) {
  if (!prev) return true;
  if (prev.k === "num" || prev.k === "str") return false;
  if (prev.k === "id") return KEYWORDS_BEFORE_REGEX.has(prev.t);
  return ![")", "]", "}"].includes(prev.t);
}

function skipRegex(src, i) {
  let j = i + 1;
  let inClass = false;
  while (j < src.length && src[j] !== "\n") {
    const c = src[j];
    if (c === "\\") j++;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) break;
    j++;
  }
  j++;
  while (/[a-z]/.test(src[j] ?? "")) j++;
  return j;
}

/** Index of the token matching the opener at `i` (forward) or the closer at `i` (backward). */
function match(tokens, i, open, close, step) {
  let depth = 0;
  for (let j = i; j >= 0 && j < tokens.length; j += step) {
    if (tokens[j].t === open) depth++;
    else if (tokens[j].t === close) depth--;
    if (depth === 0) return j;
  }
  return -1;
}

/** After the `)` at `i`, skip a `: ReturnType` if any; the index of the body's `{` or -1. */
function bodyAfterParams(tokens, i) {
  let j = i + 1;
  if (tokens[j]?.t === "=>") return tokens[j + 1]?.t === "{" ? j + 1 : -1;
  if (tokens[j]?.t === "{") return j;
  if (tokens[j]?.t !== ":") return -1;
  let depth = 0;
  for (j += 1; j < tokens.length; j++) {
    const t = tokens[j].t;
    if (t === "{" && depth === 0 && tokens[j - 1].t !== ":" && tokens[j - 1].t !== "|" && tokens[j - 1].t !== "&") return j;
    if (["(", "[", "{", "<"].includes(t)) depth++;
    else if ([")", "]", "}", ">"].includes(t)) depth--;
    else if (depth <= 0 && [";", ",", "="].includes(t)) return -1;
    if (depth < 0) return -1;
  }
  return -1;
}

/** `f` in `function f(`, `f(` (a method), `const f = (`, `f: (`; else "(anonymous)". */
function nameBefore(tokens, i) {
  const at = tokens[i - 1]?.t === "async" ? i - 1 : i;
  const before = tokens[at - 1];
  if (before?.k === "id" && before.t !== "function") return before.t;
  const assigned = (before?.t === "=" || before?.t === ":") && tokens[at - 2]?.k === "id";
  return assigned ? tokens[at - 2].t : "(anonymous)";
}

/** [{start, end, name}] of every function body (lines, 1-based, inclusive). */
export function functions(src) {
  const tokens = tokenize(src);
  const found = new Map();
  const add = (headIdx, braceIdx) => {
    const end = match(tokens, braceIdx, "{", "}", 1);
    if (end < 0 || found.has(braceIdx)) return;
    const name = nameBefore(tokens, headIdx);
    found.set(braceIdx, { start: tokens[headIdx].line, end: tokens[end].line, name });
  };
  tokens.forEach((tok, i) => {
    if (tok.t === "=>" && tokens[i + 1]?.t === "{") {
      const prev = tokens[i - 1];
      add(prev?.t === ")" ? Math.max(0, match(tokens, i - 1, ")", "(", -1)) : i - 1, i + 1);
    }
    if (tok.t !== ")") return;
    const open = match(tokens, i, ")", "(", -1);
    const head = tokens[open - 1];
    if (open < 0 || (head && CONTROL.has(head.t))) return;
    const brace = bodyAfterParams(tokens, i);
    if (brace >= 0) add(open, brace);
  });
  return [...found.values()];
}

function selfTest() {
  const body = (n) => Array.from({ length: n - 2 }, (_, k) => `  x${k}();`).join("\n");
  const cases = [
    [`function a(): { el: HTMLElement; f: () => void } {\n${body(81)}\n}`, ["a:81"]],
    [`const b = (ev: Event): void => {\n${body(80)}\n};`, ["b:80"]],
    [`class C {\n  m(x: number) {\n    if (x) {\n      return /[{]/.test(\`}\${"{"}\`);\n    }\n  }\n}`, ["m:5"]],
    [`const o = c ? (a) : { k: 1 };\nfor (const x of y) {\n}\nconst t = \`\${(() => { return 1; })()}\`;`, ["(anonymous):1"]],
  ];
  for (const [src, want] of cases) {
    const got = functions(src).map((f) => `${f.name}:${f.end - f.start + 1}`);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`check-sizes self-test: expected ${JSON.stringify(want)}, found ${JSON.stringify(got)} in:\n${src}`);
    }
  }
}

function main(list) {
  selfTest();
  const root = new URL("../src/", import.meta.url).pathname;
  const problems = [];
  for (const name of readdirSync(root, { recursive: true }).map(String).filter((n) => n.endsWith(".ts")).sort()) {
    const path = join(root, name);
    const src = readFileSync(path, "utf8");
    const where = relative(process.cwd(), path);
    const lines = src.split("\n").length - (src.endsWith("\n") ? 1 : 0);
    if (lines > MAX_FILE_LINES) problems.push(`${where}: ${lines} lines (at most ${MAX_FILE_LINES})`);
    for (const f of functions(src)) {
      const n = f.end - f.start + 1;
      if (list) console.log(`${String(n).padStart(4)} ${where}:${f.start} ${f.name}`);
      if (n > MAX_FUNCTION_LINES) problems.push(`${where}:${f.start}: ${f.name} is ${n} lines (at most ${MAX_FUNCTION_LINES})`);
    }
  }
  if (problems.length) {
    console.error(`Front-end size rules broken:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
}

// `--list`: every function with its length, for finding the next one to split.
main(process.argv.includes("--list"));
