import {
  addField,
  addTitle,
  commentStart,
  decodeString,
  encodeString,
  fieldLine,
  formatValue,
  formParameters,
  IFormField,
  parseFieldLine,
  parseForm,
  removeField,
  replaceValue,
  setFieldValue,
  setTitle,
  validateNewField
} from '../parser';
import { notebookFormParameters } from '../scheduler';

/** A Colab notebook cell using every annotation Colab documents. */
const COLAB_CELL = [
  '#@title Training settings { display-mode: "form" }',
  '#@markdown Pick the **data** and the model.',
  'dataset = "mnist"  #@param ["mnist", "cifar10", "fashion-mnist"]',
  'model = \'resnet\' #@param ["resnet", "vgg"] {allow-input: true}',
  'layers = [1, 2]  #@param {type:"raw"}',
  'epochs = 5  #@param {type:"slider", min:1, max:50, step:1}',
  'lr = 0.001  #@param {type:"number"}',
  'batch = 64  #@param {type:"integer"}',
  'augment = True  #@param {type:"boolean"}',
  'start = "2024-01-31"  #@param {type:"date"}',
  'run_name = "exp-1"  #@param {type:"string"}',
  'size = 3  #@param [1, 3, 5]',
  '',
  'print(dataset, model, epochs)'
].join('\n');

function field(source: string, name: string): IFormField {
  const found = parseForm(source).fields.find(f => f.name === name);
  if (!found) {
    throw new Error(`no field ${name}`);
  }
  return found;
}

/** Every line but `line` is byte-for-byte the same. */
function expectOnlyLineChanged(before: string, after: string, line: number) {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b.length).toBe(a.length);
  a.forEach((text, i) => {
    if (i !== line) {
      expect(b[i]).toBe(text);
    }
  });
}

describe('parseForm on a Colab cell', () => {
  const form = parseForm(COLAB_CELL);

  it('reads the title and its display mode', () => {
    expect(form.title).toEqual({
      kind: 'title',
      line: 0,
      text: 'Training settings',
      displayMode: 'form'
    });
  });

  it('keeps the markdown line in order', () => {
    expect(form.elements[1]).toEqual({
      kind: 'markdown',
      line: 1,
      text: 'Pick the **data** and the model.'
    });
  });

  it('reads a string dropdown', () => {
    const f = field(COLAB_CELL, 'dataset');
    expect(f.fieldKind).toBe('dropdown');
    expect(f.type).toBe('string');
    expect(f.items).toEqual(['mnist', 'cifar10', 'fashion-mnist']);
    expect(f.value).toBe('mnist');
    expect(f.allowInput).toBe(false);
  });

  it('reads allow-input on a dropdown', () => {
    const f = field(COLAB_CELL, 'model');
    expect(f.allowInput).toBe(true);
    expect(f.value).toBe('resnet');
  });

  it('reads a dropdown of non-strings as raw', () => {
    const f = field(COLAB_CELL, 'size');
    expect(f.type).toBe('raw');
    expect(f.items).toEqual(['1', '3', '5']);
    expect(f.value).toBe('3');
  });

  it('reads every input type', () => {
    expect(field(COLAB_CELL, 'layers')).toMatchObject({
      type: 'raw',
      value: '[1, 2]'
    });
    expect(field(COLAB_CELL, 'lr')).toMatchObject({
      type: 'number',
      value: 0.001
    });
    expect(field(COLAB_CELL, 'batch')).toMatchObject({
      type: 'integer',
      value: 64
    });
    expect(field(COLAB_CELL, 'augment')).toMatchObject({
      type: 'boolean',
      value: true
    });
    expect(field(COLAB_CELL, 'start')).toMatchObject({
      type: 'date',
      value: '2024-01-31'
    });
    expect(field(COLAB_CELL, 'run_name')).toMatchObject({
      type: 'string',
      value: 'exp-1'
    });
  });

  it('reads a slider with its bounds', () => {
    expect(field(COLAB_CELL, 'epochs')).toMatchObject({
      fieldKind: 'slider',
      type: 'slider',
      min: 1,
      max: 50,
      step: 1,
      value: 5
    });
  });

  it('finds the fields in source order with their line numbers', () => {
    expect(form.fields.map(f => [f.name, f.line])).toEqual([
      ['dataset', 2],
      ['model', 3],
      ['layers', 4],
      ['epochs', 5],
      ['lr', 6],
      ['batch', 7],
      ['augment', 8],
      ['start', 9],
      ['run_name', 10],
      ['size', 11]
    ]);
  });
});

describe('odd spacing, quotes and comments', () => {
  it.each([
    ['x=5#@param {type:"integer"}', 5],
    ['x   =   5   #   @param   {  type : "integer" }', 5],
    ['  x = 5 # @param {type: "integer"}', 5],
    ["x = 5 #@param {'type':'integer'}", 5],
    ['x = 5  #@param {type:"integer"}  # epochs to train', 5],
    ['x = 5\t#@param\t{type:"integer"}', 5]
  ])('parses %j', (line, value) => {
    const f = parseFieldLine(line);
    expect(f).not.toBeNull();
    expect(f!.type).toBe('integer');
    expect(f!.value).toBe(value);
  });

  it('ignores a # inside the string value', () => {
    const f = parseFieldLine('tag = "a#b # c"  #@param {type:"string"}')!;
    expect(f.value).toBe('a#b # c');
  });

  it('is not fooled by #@param inside a string', () => {
    expect(parseFieldLine('x = "#@param {type:\\"raw\\"}"')).toBeNull();
  });

  it('ignores lines that are not annotated', () => {
    expect(parseFieldLine('x = 5  # a comment')).toBeNull();
    expect(parseFieldLine('print(x)  #@param')).toBeNull();
    expect(parseFieldLine('# x = 5 #@param')).toBeNull();
  });

  it('infers the type when the annotation has none', () => {
    expect(parseFieldLine('s = "hi"  #@param')!.type).toBe('string');
    expect(parseFieldLine('n = 12  #@param')!.type).toBe('raw');
  });

  it('decodes escapes and keeps non-ASCII values', () => {
    const f = parseFieldLine(
      'greeting = "Grüße, \\"世界\\" \\u00e9"  #@param {type:"string"}'
    )!;
    expect(f.value).toBe('Grüße, "世界" é');
    expect(parseFieldLine('名前 = "値"  #@param {type:"string"}')!.name).toBe(
      '名前'
    );
    const dd = parseFieldLine('city = "Zürich"  #@param ["Zürich", "東京"]')!;
    expect(dd.items).toEqual(['Zürich', '東京']);
  });

  it('treats a malformed annotation as a raw field', () => {
    const f = parseFieldLine('x = 1  #@param {type:"slider", min:}')!;
    expect(f.type).toBe('raw');
    expect(f.value).toBe('1');
  });

  it('finds comment starts outside strings only', () => {
    expect(commentStart("a = 'x#y'  # c")).toBe(11);
    expect(commentStart('a = """x#y"""  # c')).toBe(15);
    expect(commentStart('a = 1')).toBe(-1);
  });
});

describe('writing values back', () => {
  it('changes only the value on that line, byte for byte elsewhere', () => {
    const cells = [
      COLAB_CELL,
      COLAB_CELL.replace(/\n/g, '\r\n'),
      '  x   =   5   #   @param   {  type : "integer" }   # trailing note  \n\nprint(x)\n'
    ];
    for (const cell of cells) {
      const f = parseForm(cell).fields.find(
        g => g.type === 'integer' || g.name === 'x'
      )!;
      const out = setFieldValue(cell, f, 7);
      expect(out.ok).toBe(true);
      const after = (out as { source: string }).source;
      expectOnlyLineChanged(cell, after, f.line);
      const before = cell.split('\n')[f.line];
      const changed = after.split('\n')[f.line];
      expect(changed).toBe(before.replace(f.valueSource, '7'));
      expect(field(after, f.name).value).toBe(7);
    }
  });

  it('writes a slider value and the form reads it back', () => {
    const f = field(COLAB_CELL, 'epochs');
    const out = setFieldValue(COLAB_CELL, f, 12) as { source: string };
    expect(out.source.split('\n')[5]).toBe(
      'epochs = 12  #@param {type:"slider", min:1, max:50, step:1}'
    );
    expectOnlyLineChanged(COLAB_CELL, out.source, 5);
  });

  it('keeps the quote style of a string and escapes what needs it', () => {
    const f = field(COLAB_CELL, 'model');
    const out = setFieldValue(COLAB_CELL, f, 'it\'s "ok"') as {
      source: string;
    };
    expect(out.source.split('\n')[3]).toBe(
      'model = \'it\\\'s "ok"\' #@param ["resnet", "vgg"] {allow-input: true}'
    );
    expect(field(out.source, 'model').value).toBe('it\'s "ok"');
  });

  it('round-trips non-ASCII and control characters', () => {
    const f = field(COLAB_CELL, 'run_name');
    for (const text of [
      'Grüße 世界 🚀',
      'tab\there',
      'back\\slash',
      'line\nbreak'
    ]) {
      const out = setFieldValue(COLAB_CELL, f, text) as { source: string };
      expect(field(out.source, 'run_name').value).toBe(text);
      expect(out.source.split('\n')).toHaveLength(
        COLAB_CELL.split('\n').length
      );
    }
  });

  it('writes booleans, dates, raw and dropdown values', () => {
    let src = COLAB_CELL;
    src = (setFieldValue(src, field(src, 'augment'), false) as any).source;
    src = (setFieldValue(src, field(src, 'start'), '2025-12-24') as any).source;
    src = (setFieldValue(src, field(src, 'layers'), '{"a": 1}') as any).source;
    src = (setFieldValue(src, field(src, 'dataset'), 'cifar10') as any).source;
    src = (setFieldValue(src, field(src, 'size'), '5') as any).source;
    const lines = src.split('\n');
    expect(lines[8]).toBe('augment = False  #@param {type:"boolean"}');
    expect(lines[9]).toBe('start = "2025-12-24"  #@param {type:"date"}');
    expect(lines[4]).toBe('layers = {"a": 1}  #@param {type:"raw"}');
    expect(lines[2]).toBe(
      'dataset = "cifar10"  #@param ["mnist", "cifar10", "fashion-mnist"]'
    );
    expect(lines[11]).toBe('size = 5  #@param [1, 3, 5]');
  });

  it('refuses invalid values and leaves the code alone', () => {
    const cases: [string, string | number][] = [
      ['batch', '12.5'],
      ['batch', 'many'],
      ['lr', 'fast'],
      ['lr', 'Infinity'],
      ['epochs', 99],
      ['start', '2024-13-45'],
      ['start', 'tomorrow'],
      ['augment', 'maybe'],
      ['layers', ''],
      ['layers', 'a\nb']
    ];
    for (const [name, value] of cases) {
      const out = setFieldValue(COLAB_CELL, field(COLAB_CELL, name), value);
      expect(out.ok).toBe(false);
      expect((out as { error: string }).error).toMatch(/Enter|line/);
    }
  });

  it('inserts a space when the value touches the annotation', () => {
    expect(replaceValue('x=5#@param {type:"integer"}', 0, '6')).toBe(
      'x=6 #@param {type:"integer"}'
    );
  });

  it('refuses to write a line that is not a field', () => {
    expect(() => replaceValue('print(1)', 0, '2')).toThrow(/not a form field/);
  });

  it('formats numbers without changing what the user typed', () => {
    expect(
      formatValue(
        { type: 'number', fieldKind: 'input', valueSource: '0' },
        '1e-3'
      )
    ).toEqual({
      ok: true,
      source: '1e-3'
    });
  });
});

describe('string literals', () => {
  it.each([
    ['"a"', 'a'],
    ["'a'", 'a'],
    ['"""a"b"""', 'a"b'],
    ["r'\\d+'", '\\d+'],
    ['u"x"', 'x'],
    ['"\\x41\\n"', 'A\n']
  ])('decodes %s', (source, text) => {
    expect(decodeString(source)).toBe(text);
  });

  it.each(['"a" + "b"', 'b"x"', '5', 'name'])('rejects %s', source => {
    expect(decodeString(source)).toBeNull();
  });

  it('encodes with the quote style asked for', () => {
    expect(encodeString('a"b')).toBe('"a\\"b"');
    expect(encodeString("a'b", "'old'")).toBe("'a\\'b'");
  });
});

describe('form structure edits', () => {
  it('adds the default title on top of plain code', () => {
    expect(addTitle('print(1)')).toBe('#@title Default title text\nprint(1)');
    expect(addTitle('')).toBe('#@title Default title text');
    expect(addTitle(COLAB_CELL)).toBe(COLAB_CELL);
  });

  it('renames the title and keeps its options', () => {
    const out = setTitle(COLAB_CELL, 'Réglages');
    expect(out.split('\n')[0]).toBe(
      '#@title Réglages { display-mode: "form" }'
    );
    expectOnlyLineChanged(COLAB_CELL, out, 0);
    expect(setTitle('# @title Old\nx = 1', 'New')).toBe('# @title New\nx = 1');
  });

  it('adds fields after the last form line, leaving the code below', () => {
    let src = addTitle('print(n, choice)');
    src = addField(src, {
      fieldKind: 'slider',
      type: 'slider',
      name: 'n',
      min: 0,
      max: 10,
      step: 2
    });
    src = addField(src, {
      fieldKind: 'dropdown',
      type: 'string',
      name: 'choice',
      items: ['a', 'b ü']
    });
    expect(src).toBe(
      [
        '#@title Default title text',
        'n = 0  #@param {type:"slider", min:0, max:10, step:2}',
        'choice = "a"  #@param ["a", "b ü"]',
        'print(n, choice)'
      ].join('\n')
    );
    expect(parseForm(src).fields.map(f => f.fieldKind)).toEqual([
      'slider',
      'dropdown'
    ]);
  });

  it('writes a parseable line for every input type', () => {
    for (const type of [
      'boolean',
      'date',
      'integer',
      'number',
      'raw',
      'string'
    ] as const) {
      const f = parseFieldLine(
        fieldLine({ fieldKind: 'input', type, name: 'v' })
      )!;
      expect(f.type).toBe(type);
      expect(formatValue(f, f.value).ok).toBe(true);
    }
    const raw = parseFieldLine(
      fieldLine({
        fieldKind: 'dropdown',
        type: 'raw',
        name: 'r',
        items: ['1', '[2]']
      })
    )!;
    expect(raw).toMatchObject({ type: 'raw', items: ['1', '[2]'], value: '1' });
  });

  it('removes a field line and nothing else', () => {
    const out = removeField(COLAB_CELL, 4);
    expect(out.split('\n')).toEqual(
      COLAB_CELL.split('\n').filter((_l, i) => i !== 4)
    );
    expect(() => removeField(COLAB_CELL, 12)).toThrow(/not a form field/);
  });

  it('validates the Add new form field dialog', () => {
    const existing = parseForm(COLAB_CELL).fields;
    const base = { fieldKind: 'input' as const, type: 'string' as const };
    expect(validateNewField({ ...base, name: 'ok_name' }, existing)).toBeNull();
    expect(validateNewField({ ...base, name: '1abc' })).toMatch(/identifier/);
    expect(validateNewField({ ...base, name: 'class' })).toMatch(/identifier/);
    expect(validateNewField({ ...base, name: 'lr' }, existing)).toMatch(
      /already/
    );
    expect(
      validateNewField({
        fieldKind: 'dropdown',
        type: 'string',
        name: 'd',
        items: ['a', ' ']
      })
    ).toMatch(/two items/);
    expect(
      validateNewField({
        fieldKind: 'dropdown',
        type: 'integer',
        name: 'd',
        items: ['1', '2']
      })
    ).toMatch(/raw or string/);
    expect(
      validateNewField({
        fieldKind: 'slider',
        type: 'slider',
        name: 's',
        min: 5,
        max: 1,
        step: 1
      })
    ).toMatch(/below/);
    expect(
      validateNewField({
        fieldKind: 'slider',
        type: 'slider',
        name: 's',
        min: 0,
        max: 1,
        step: 0
      })
    ).toMatch(/step/);
  });
});

describe('job parameters', () => {
  it('suggests each field with the literal from the code', () => {
    expect(formParameters(COLAB_CELL).slice(0, 4)).toEqual([
      { name: 'dataset', value: '"mnist"' },
      { name: 'model', value: "'resnet'" },
      { name: 'layers', value: '[1, 2]' },
      { name: 'epochs', value: '5' }
    ]);
    expect(formParameters('print(1)')).toEqual([]);
  });
});

describe('notebook job parameters', () => {
  it('collects the fields of every code cell, the first definition winning', () => {
    expect(
      notebookFormParameters([
        '#@title A\nx = 1  #@param {type:"integer"}',
        'print(x)',
        'x = 2  #@param {type:"integer"}\ny = "b"  #@param ["a", "b"]'
      ])
    ).toEqual([
      { name: 'x', value: '1' },
      { name: 'y', value: '"b"' }
    ]);
  });
});
