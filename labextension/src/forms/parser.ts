/**
 * Parser and writer for Colab-style code-cell forms (`#@title`, `#@param`, `#@markdown`).
 *
 * Pure functions over the cell source: no JupyterLab imports, so jest tests run them directly.
 * Writing a value replaces only the value's characters on its line; every other byte of the
 * cell is kept as it was.
 */

/** Variable types a `#@param` annotation can declare. */
export type ParamType =
  'raw' | 'string' | 'boolean' | 'date' | 'integer' | 'number' | 'slider';

/** How a field is shown: a free input, a dropdown of items, or a slider. */
export type FieldKind = 'input' | 'dropdown' | 'slider';

/** Every declarable type, in the order the dialog offers them. */
export const INPUT_TYPES: ParamType[] = [
  'boolean',
  'date',
  'integer',
  'number',
  'raw',
  'string'
];

/** The variable types a dropdown supports. */
export const DROPDOWN_TYPES: ParamType[] = ['raw', 'string'];

/** One `name = value  #@param ...` line. */
export interface IFormField {
  kind: 'field';
  /** Zero-based line index inside the cell source. */
  line: number;
  name: string;
  fieldKind: FieldKind;
  type: ParamType;
  /** The value exactly as written in the code. */
  valueSource: string;
  /** The value as the form shows it (strings decoded, booleans as booleans). */
  value: string | number | boolean;
  /** Dropdown items as the form shows them. */
  items?: string[];
  /** Dropdown items as written in the annotation (Python literals). */
  itemSources?: string[];
  /** A dropdown that also accepts a typed value (`allow-input: true`). */
  allowInput?: boolean;
  min?: number;
  max?: number;
  step?: number;
  placeholder?: string;
}

/** A `#@title` line. */
export interface IFormTitle {
  kind: 'title';
  line: number;
  text: string;
  /** `display-mode` from the title's options (`form`, `code`, `both`), if any. */
  displayMode?: string;
}

/** A `#@markdown` line. */
export interface IFormMarkdown {
  kind: 'markdown';
  line: number;
  text: string;
}

export type FormElement = IFormTitle | IFormMarkdown | IFormField;

/** What a cell's source declares as a form. */
export interface IParsedForm {
  /** Title, markdown and fields in source order. */
  elements: FormElement[];
  title: IFormTitle | null;
  fields: IFormField[];
  /** Whether the cell has any form annotation at all. */
  hasForm: boolean;
}

/** The result of turning a form value into code. */
export type FormatResult =
  { ok: true; source: string } | { ok: false; error: string };

const TITLE_RE = /^\s*#\s*@title(?:\s(.*?))?\s*$/;
const MARKDOWN_RE = /^\s*#\s*@markdown(?:\s(.*))?$/;
const ASSIGN_RE = /^(\s*)([A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*)(\s*=\s*)/;
const PARAM_RE = /^#\s*@param\b/;
const IDENTIFIER_RE = /^[A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*$/;
const PYTHON_KEYWORDS = new Set(
  (
    'False None True and as assert async await break class continue def del elif else except ' +
    'finally for from global if import in is lambda nonlocal not or pass raise return try ' +
    'while with yield'
  ).split(' ')
);

/** Split a source into lines; joining them with '\n' gives the source back. */
function splitLines(source: string): string[] {
  return source.split('\n');
}

/** Index of the `#` that starts a comment in a line of Python, or -1 (quotes respected). */
export function commentStart(text: string): number {
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') {
        i++;
      } else if (text.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = null;
      }
    } else if (c === '#') {
      return i;
    } else if (c === '"' || c === "'") {
      quote = text.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      i += quote.length - 1;
    }
  }
  return -1;
}

/** A tiny reader for the annotation's `[...]` item list and `{key: value}` options. */
class OptionReader {
  pos = 0;
  constructor(readonly text: string) {}

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) {
      this.pos++;
    }
  }

  peek(): string {
    return this.text[this.pos] ?? '';
  }

  /** A Python-ish literal: string, number, true/false/None or bare word; its source and value. */
  literal(stop: string): { source: string; value: any } {
    this.skipSpace();
    const start = this.pos;
    const c = this.peek();
    if (c === '"' || c === "'") {
      this.pos++;
      while (this.pos < this.text.length && this.text[this.pos] !== c) {
        if (this.text[this.pos] === '\\') {
          this.pos++;
        }
        this.pos++;
      }
      if (this.pos >= this.text.length) {
        throw new Error('unterminated string');
      }
      this.pos++;
      const source = this.text.slice(start, this.pos);
      return { source, value: decodeString(source) ?? source };
    }
    // Raw item: up to the next separator at bracket depth 0.
    let depth = 0;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if ('([{'.includes(ch)) {
        depth++;
      } else if (')]}'.includes(ch)) {
        if (depth === 0) {
          break;
        }
        depth--;
      } else if (depth === 0 && stop.includes(ch)) {
        break;
      } else if (ch === '"' || ch === "'") {
        const end = this.text.indexOf(ch, this.pos + 1);
        this.pos = end < 0 ? this.text.length - 1 : end;
      }
      this.pos++;
    }
    const source = this.text.slice(start, this.pos).trim();
    if (!source) {
      throw new Error('empty value');
    }
    let value: any = source;
    if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(source)) {
      value = Number(source);
    } else if (/^(true|True)$/.test(source)) {
      value = true;
    } else if (/^(false|False)$/.test(source)) {
      value = false;
    }
    return { source, value };
  }

  /** `[a, b, ...]` as sources and values. */
  list(): { sources: string[]; values: any[] } {
    this.pos++; // '['
    const sources: string[] = [];
    const values: any[] = [];
    for (;;) {
      this.skipSpace();
      if (this.peek() === ']') {
        this.pos++;
        return { sources, values };
      }
      const item = this.literal(',]');
      sources.push(item.source);
      values.push(item.value);
      this.skipSpace();
      if (this.peek() === ',') {
        this.pos++;
      } else if (this.peek() !== ']') {
        throw new Error('expected , or ]');
      }
    }
  }

  /** `{key: value, ...}`; keys may be bare (`allow-input`) or quoted. */
  object(): Record<string, any> {
    this.pos++; // '{'
    const result: Record<string, any> = {};
    for (;;) {
      this.skipSpace();
      if (this.peek() === '}') {
        this.pos++;
        return result;
      }
      let key: string;
      if (this.peek() === '"' || this.peek() === "'") {
        key = String(this.literal(':').value);
      } else {
        const m = /^[\w-]+/.exec(this.text.slice(this.pos));
        if (!m) {
          throw new Error('expected a key');
        }
        key = m[0];
        this.pos += key.length;
      }
      this.skipSpace();
      if (this.peek() !== ':') {
        throw new Error('expected :');
      }
      this.pos++;
      result[key] = this.literal(',}').value;
      this.skipSpace();
      if (this.peek() === ',') {
        this.pos++;
      } else if (this.peek() !== '}') {
        throw new Error('expected , or }');
      }
    }
  }
}

/** The text of a Python string literal, or null when `source` is not exactly one. */
export function decodeString(source: string): string | null {
  const m = /^([rRuUbB]{0,2})('''|"""|'|")([\s\S]*)\2$/.exec(source.trim());
  if (!m || /[bB]/.test(m[1])) {
    return null;
  }
  const [, prefix, quote, body] = m;
  // An unescaped quote inside means this is not one literal (e.g. "a" + "b").
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\') {
      i++;
    } else if (quote.length === 1 && body[i] === quote) {
      return null;
    }
  }
  if (/[rR]/.test(prefix)) {
    return body;
  }
  return body.replace(
    /\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|N\{[^}]*\}|[\s\S])/g,
    (_all, esc: string) => {
      switch (esc[0]) {
        case 'n':
          return '\n';
        case 't':
          return '\t';
        case 'r':
          return '\r';
        case '0':
          return '\0';
        case 'u':
        case 'U':
        case 'x':
          return String.fromCodePoint(parseInt(esc.slice(1), 16));
        case '\n':
          return '';
        case '\\':
        case "'":
        case '"':
          return esc;
        default:
          return '\\' + esc;
      }
    }
  );
}

/** A Python string literal for `text`, in the quote style of `like` when it is one. */
export function encodeString(text: string, like?: string): string {
  const quote = like && /^[uU]?'/.test(like.trim()) ? "'" : '"';
  let body = '';
  for (const ch of text) {
    if (ch === '\\') {
      body += '\\\\';
    } else if (ch === quote) {
      body += '\\' + quote;
    } else if (ch === '\n') {
      body += '\\n';
    } else if (ch === '\r') {
      body += '\\r';
    } else if (ch === '\t') {
      body += '\\t';
    } else if (ch < ' ' || ch === '\x7f') {
      body += '\\x' + ch.charCodeAt(0).toString(16).padStart(2, '0');
    } else {
      body += ch;
    }
  }
  return quote + body + quote;
}

/** Parse one line as a form field, or null when it is not a `#@param` line. */
export function parseFieldLine(text: string, line = 0): IFormField | null {
  const assign = ASSIGN_RE.exec(text);
  if (!assign) {
    return null;
  }
  const rest = text.slice(assign[0].length);
  const hash = commentStart(rest);
  if (hash < 0) {
    return null;
  }
  const comment = rest.slice(hash);
  const param = PARAM_RE.exec(comment);
  if (!param) {
    return null;
  }
  const valueSource = rest.slice(0, hash).replace(/\s+$/, '');
  const reader = new OptionReader(comment.slice(param[0].length));
  let items: { sources: string[]; values: any[] } | null = null;
  let options: Record<string, any> = {};
  try {
    reader.skipSpace();
    if (reader.peek() === '[') {
      items = reader.list();
      reader.skipSpace();
    }
    if (reader.peek() === '{') {
      options = reader.object();
    }
  } catch {
    // A malformed annotation is still a field: shown as a raw input.
    items = null;
    options = { type: 'raw' };
  }
  const declared = String(options.type ?? '');
  const name = assign[2];
  const field: IFormField = {
    kind: 'field',
    line,
    name,
    fieldKind: 'input',
    type: 'raw',
    valueSource,
    value: valueSource
  };
  if (items) {
    field.fieldKind = 'dropdown';
    const allStrings = items.sources.every(s => decodeString(s) !== null);
    field.type =
      declared === 'raw' || (!declared && !allStrings) ? 'raw' : 'string';
    field.itemSources = items.sources;
    field.items =
      field.type === 'string'
        ? items.values.map(v => String(v))
        : items.sources.slice();
    field.allowInput = options['allow-input'] === true;
  } else if (declared === 'slider') {
    field.fieldKind = 'slider';
    field.type = 'slider';
    field.min = Number(options.min ?? 0);
    field.max = Number(options.max ?? 100);
    field.step = Number(options.step ?? 1);
  } else if (
    ['raw', 'string', 'boolean', 'date', 'integer', 'number'].includes(declared)
  ) {
    field.type = declared as ParamType;
  } else {
    // No type: a string literal is a string, anything else raw (Colab's rule).
    field.type = decodeString(valueSource) !== null ? 'string' : 'raw';
  }
  if (typeof options.placeholder === 'string') {
    field.placeholder = options.placeholder;
  }
  field.value = displayValue(field.type, valueSource);
  return field;
}

/** What the form shows for a value written in code. */
export function displayValue(
  type: ParamType,
  valueSource: string
): string | number | boolean {
  const text = valueSource.trim();
  switch (type) {
    case 'string':
    case 'date':
      return decodeString(text) ?? text;
    case 'boolean':
      return text === 'True';
    case 'integer':
    case 'number':
    case 'slider': {
      const n = Number(text);
      return text !== '' && Number.isFinite(n) ? n : text;
    }
    default:
      return text;
  }
}

/** Every form element of a cell source. */
export function parseForm(source: string): IParsedForm {
  const elements: FormElement[] = [];
  let title: IFormTitle | null = null;
  // Every annotation has an '@': most cells and lines are skipped without a regex.
  const lines = source.includes('@') ? splitLines(source) : [];
  lines.forEach((text, line) => {
    if (!text.includes('@')) {
      return;
    }
    const t = TITLE_RE.exec(text);
    if (t) {
      let body = t[1] ?? '';
      let displayMode: string | undefined;
      const brace = /\{([^{}]*)\}\s*$/.exec(body);
      if (brace) {
        try {
          const opts = new OptionReader(brace[0]).object();
          displayMode = opts['display-mode'];
          body = body.slice(0, brace.index).trimEnd();
        } catch {
          // Not options after all: part of the title.
        }
      }
      const element: IFormTitle = { kind: 'title', line, text: body.trim() };
      if (displayMode) {
        element.displayMode = String(displayMode);
      }
      title = title ?? element;
      elements.push(element);
      return;
    }
    const md = MARKDOWN_RE.exec(text);
    if (md) {
      elements.push({ kind: 'markdown', line, text: (md[1] ?? '').trimEnd() });
      return;
    }
    const field = parseFieldLine(text, line);
    if (field) {
      elements.push(field);
    }
  });
  return {
    elements,
    title,
    fields: elements.filter((e): e is IFormField => e.kind === 'field'),
    hasForm: elements.length > 0
  };
}

/** Turn what the user entered into the code for a field's value, or say why it is invalid. */
export function formatValue(
  field: Pick<
    IFormField,
    'type' | 'fieldKind' | 'valueSource' | 'min' | 'max' | 'items'
  >,
  value: string | number | boolean
): FormatResult {
  const text = typeof value === 'string' ? value : String(value);
  switch (field.type) {
    case 'string':
      return { ok: true, source: encodeString(text, field.valueSource) };
    case 'date':
      if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || isNaN(Date.parse(text))) {
        return { ok: false, error: 'Enter a date as YYYY-MM-DD.' };
      }
      return { ok: true, source: encodeString(text, field.valueSource) };
    case 'boolean':
      if (typeof value === 'boolean') {
        return { ok: true, source: value ? 'True' : 'False' };
      }
      if (/^(true|false)$/i.test(text.trim())) {
        return {
          ok: true,
          source: text.trim().toLowerCase() === 'true' ? 'True' : 'False'
        };
      }
      return { ok: false, error: 'Enter True or False.' };
    case 'integer':
      if (!/^[-+]?\d+$/.test(text.trim())) {
        return { ok: false, error: 'Enter a whole number, e.g. 42.' };
      }
      return { ok: true, source: String(BigInt(text.trim())) };
    case 'number':
    case 'slider': {
      const t = text.trim();
      if (
        !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t) ||
        !Number.isFinite(Number(t))
      ) {
        return { ok: false, error: 'Enter a number, e.g. 0.5.' };
      }
      const n = Number(t);
      if (
        field.type === 'slider' &&
        ((field.min !== undefined && n < field.min) ||
          (field.max !== undefined && n > field.max))
      ) {
        return {
          ok: false,
          error: `Enter a number from ${field.min} to ${field.max}.`
        };
      }
      return { ok: true, source: field.type === 'slider' ? String(n) : t };
    }
    default:
      if (!text.trim()) {
        return { ok: false, error: 'Enter a Python expression.' };
      }
      if (/[\n\r]/.test(text)) {
        return { ok: false, error: 'A value must fit on one line.' };
      }
      return { ok: true, source: text.trim() };
  }
}

/** The source with the value on `field`'s line replaced by `valueSource` (nothing else changes). */
export function replaceValue(
  source: string,
  line: number,
  valueSource: string
): string {
  const lines = splitLines(source);
  const text = lines[line];
  const assign = text === undefined ? null : ASSIGN_RE.exec(text);
  if (!assign) {
    throw new Error(`line ${line + 1} is not a form field`);
  }
  const rest = text.slice(assign[0].length);
  const hash = commentStart(rest);
  if (hash < 0 || !PARAM_RE.test(rest.slice(hash))) {
    throw new Error(`line ${line + 1} is not a form field`);
  }
  const before = rest.slice(0, hash);
  const old = before.replace(/\s+$/, '');
  let gap = before.slice(old.length);
  if (!gap) {
    gap = ' ';
  }
  lines[line] = assign[0] + valueSource + gap + rest.slice(hash);
  return lines.join('\n');
}

/** The source with one form value set; an invalid value is refused, never written. */
export function setFieldValue(
  source: string,
  field: IFormField,
  value: string | number | boolean
): { ok: true; source: string } | { ok: false; error: string } {
  const result = formatValue(field, value);
  if (!result.ok) {
    return result;
  }
  return { ok: true, source: replaceValue(source, field.line, result.source) };
}

/** What the Add new form field dialog produces. */
export interface INewField {
  fieldKind: FieldKind;
  type: ParamType;
  name: string;
  /** Dropdown items (display values). */
  items?: string[];
  min?: number;
  max?: number;
  step?: number;
}

/** Why a new field cannot be added, or null. */
export function validateNewField(
  spec: INewField,
  existing: IFormField[] = []
): string | null {
  if (!IDENTIFIER_RE.test(spec.name) || PYTHON_KEYWORDS.has(spec.name)) {
    return 'The variable name must be a Python identifier, e.g. learning_rate.';
  }
  if (existing.some(f => f.name === spec.name)) {
    return `The form already has a field named ${spec.name}.`;
  }
  if (spec.fieldKind === 'dropdown') {
    const items = (spec.items ?? []).filter(i => i.trim() !== '');
    if (items.length < 2) {
      return 'A dropdown needs at least two items.';
    }
    if (!DROPDOWN_TYPES.includes(spec.type)) {
      return 'A dropdown holds raw or string values.';
    }
    if (spec.type === 'raw' && items.some(i => /[\n\r]/.test(i))) {
      return 'A raw item must fit on one line.';
    }
  } else if (spec.fieldKind === 'slider') {
    const { min = 0, max = 100, step = 1 } = spec;
    if (![min, max, step].every(Number.isFinite)) {
      return 'Slider minimum, maximum and step must be numbers.';
    }
    if (min >= max) {
      return 'The slider minimum must be below its maximum.';
    }
    if (step <= 0 || step > max - min) {
      return 'The slider step must be above 0 and at most max - min.';
    }
  } else if (!INPUT_TYPES.includes(spec.type)) {
    return `Unknown input type ${spec.type}.`;
  }
  return null;
}

/** The code line for a new field, with its default value. */
export function fieldLine(spec: INewField): string {
  const n = spec.name;
  if (spec.fieldKind === 'dropdown') {
    const items = (spec.items ?? []).filter(i => i.trim() !== '');
    const sources =
      spec.type === 'raw'
        ? items.map(i => i.trim())
        : items.map(i => encodeString(i));
    const typeOpt = spec.type === 'raw' ? ' {type:"raw"}' : '';
    return `${n} = ${sources[0]}  #@param [${sources.join(', ')}]${typeOpt}`;
  }
  if (spec.fieldKind === 'slider') {
    const { min = 0, max = 100, step = 1 } = spec;
    return `${n} = ${min}  #@param {type:"slider", min:${min}, max:${max}, step:${step}}`;
  }
  const defaults: Record<string, string> = {
    boolean: 'False',
    date: `"${new Date().toISOString().slice(0, 10)}"`,
    integer: '0',
    number: '0.0',
    raw: 'None',
    string: '""'
  };
  return `${n} = ${defaults[spec.type] ?? 'None'}  #@param {type:"${spec.type}"}`;
}

/** The source with a new field appended after the form's last line. */
export function addField(source: string, spec: INewField): string {
  const form = parseForm(source);
  const lines = splitLines(source);
  const last = form.elements.length
    ? form.elements[form.elements.length - 1].line
    : -1;
  lines.splice(last + 1, 0, fieldLine(spec));
  return lines.join('\n');
}

/** The source without the field's line. */
export function removeField(source: string, line: number): string {
  const lines = splitLines(source);
  if (!parseFieldLine(lines[line] ?? '')) {
    throw new Error(`line ${line + 1} is not a form field`);
  }
  lines.splice(line, 1);
  return lines.join('\n');
}

/** The default title Add Form writes (Colab's). */
export const DEFAULT_TITLE = 'Default title text';

/** The source with a `#@title` line (first line) when it has none. */
export function addTitle(source: string, title = DEFAULT_TITLE): string {
  if (parseForm(source).title) {
    return source;
  }
  return `#@title ${title}` + (source ? '\n' + source : '');
}

/** The source with the title text replaced; the title's options stay. */
export function setTitle(source: string, text: string): string {
  const form = parseForm(source);
  const title = form.title;
  const clean = text.replace(/[\r\n]+/g, ' ').trim();
  if (!title) {
    return addTitle(source, clean);
  }
  const lines = splitLines(source);
  const m = /^(\s*#\s*@title)(?:\s(.*?))?(\s*)$/.exec(lines[title.line])!;
  const body = m[2] ?? '';
  const brace = /\s*\{[^{}]*\}\s*$/.exec(body);
  let opts = '';
  if (brace) {
    try {
      new OptionReader(brace[0].trim()).object();
      opts = brace[0];
    } catch {
      // Not options: part of the old title text.
    }
  }
  lines[title.line] = `${m[1]} ${clean}${opts}${m[3]}`;
  return lines.join('\n');
}

/** Parameters a scheduled job could set: each form field's name and current value source. */
export function formParameters(
  source: string
): { name: string; value: string }[] {
  // The code's own literal: the job's parameter injection reads it back with its type.
  return parseForm(source).fields.map(f => ({
    name: f.name,
    value: f.valueSource
  }));
}
