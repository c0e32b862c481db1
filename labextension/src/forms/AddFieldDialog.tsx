import { Dialog, ReactWidget, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { addIcon, deleteIcon } from '@jupyterlab/ui-components';
import * as React from 'react';
import {
  DROPDOWN_TYPES,
  FieldKind,
  IFormField,
  INPUT_TYPES,
  INewField,
  ParamType,
  validateNewField
} from './parser';

/** The body of the Add new form field dialog; `getValue` gives the field it describes. */
class AddFieldBody extends ReactWidget {
  constructor(
    private spec: INewField,
    private readonly error: string | null,
    private readonly trans: TranslationBundle
  ) {
    super();
    this.addClass('ma-AddFieldDialog');
  }

  getValue(): INewField {
    return this.spec;
  }

  protected render(): JSX.Element {
    return (
      <AddFieldForm
        initial={this.spec}
        error={this.error}
        trans={this.trans}
        onChange={spec => (this.spec = spec)}
      />
    );
  }
}

function AddFieldForm(props: {
  initial: INewField;
  error: string | null;
  trans: TranslationBundle;
  onChange(spec: INewField): void;
}): JSX.Element {
  const { trans } = props;
  const [spec, setSpec] = React.useState<INewField>(props.initial);
  const update = (patch: Partial<INewField>) => {
    const next = { ...spec, ...patch };
    setSpec(next);
    props.onChange(next);
  };
  const setKind = (fieldKind: FieldKind) => {
    const type: ParamType =
      fieldKind === 'slider'
        ? 'slider'
        : fieldKind === 'dropdown'
          ? DROPDOWN_TYPES.includes(spec.type)
            ? spec.type
            : 'string'
          : INPUT_TYPES.includes(spec.type)
            ? spec.type
            : 'string';
    update({ fieldKind, type });
  };
  const items = spec.items ?? [];
  const types = spec.fieldKind === 'dropdown' ? DROPDOWN_TYPES : INPUT_TYPES;
  const number = (value: string) => (value === '' ? NaN : Number(value));
  return (
    <div className="ma-AddFieldDialog-form">
      {props.error && (
        <div className="ma-AddFieldDialog-error" role="alert">
          {props.error}
        </div>
      )}
      <div className="ma-AddFieldDialog-row">
        <label>
          {trans.__('Form field type')}
          <select
            className="jp-mod-styled"
            value={spec.fieldKind}
            onChange={e => setKind(e.target.value as FieldKind)}
          >
            <option value="dropdown">{trans.__('dropdown')}</option>
            <option value="input">{trans.__('input')}</option>
            <option value="slider">{trans.__('slider')}</option>
          </select>
        </label>
        {spec.fieldKind !== 'slider' && (
          <label>
            {trans.__('Variable type')}
            <select
              className="jp-mod-styled"
              value={spec.type}
              onChange={e => update({ type: e.target.value as ParamType })}
            >
              {types.map(t => (
                <option key={t} value={t}>
                  {t}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {spec.fieldKind === 'dropdown' && (
        <div className="ma-AddFieldDialog-items">
          {items.map((item, i) => (
            <div key={i} className="ma-AddFieldDialog-item">
              <input
                className="jp-mod-styled"
                aria-label={trans.__('Item %1', i + 1)}
                placeholder={trans.__('input a value')}
                value={item}
                onChange={e => {
                  const next = items.slice();
                  next[i] = e.target.value;
                  update({ items: next });
                }}
              />
              <button
                className="jp-Button jp-mod-minimal"
                title={trans.__('Remove item %1', i + 1)}
                onClick={() =>
                  update({ items: items.filter((_v, j) => j !== i) })
                }
              >
                <deleteIcon.react tag="span" />
              </button>
            </div>
          ))}
          <button
            className="jp-Button jp-mod-styled jp-mod-reject ma-AddFieldDialog-addItem"
            onClick={() => update({ items: [...items, ''] })}
          >
            <addIcon.react tag="span" />
            {trans.__('Add Item')}
          </button>
        </div>
      )}
      {spec.fieldKind === 'slider' && (
        <div className="ma-AddFieldDialog-row">
          {(['min', 'max', 'step'] as const).map(key => (
            <label key={key}>
              {
                {
                  min: trans.__('Minimum'),
                  max: trans.__('Maximum'),
                  step: trans.__('Step')
                }[key]
              }
              <input
                className="jp-mod-styled"
                type="number"
                value={Number.isFinite(spec[key]) ? spec[key] : ''}
                onChange={e => update({ [key]: number(e.target.value) })}
              />
            </label>
          ))}
        </div>
      )}
      <label className="ma-AddFieldDialog-name">
        {trans.__('Variable name')}
        <input
          className="jp-mod-styled"
          value={spec.name}
          onChange={e => update({ name: e.target.value })}
        />
      </label>
    </div>
  );
}

/**
 * Ask for a new form field; the dialog comes back with the message until the field is valid.
 * Resolves to null when the user cancels.
 */
export async function askNewField(
  existing: IFormField[],
  trans: TranslationBundle
): Promise<INewField | null> {
  let spec: INewField = {
    fieldKind: 'dropdown',
    type: 'string',
    name: 'variable_name',
    items: ['option1', 'option2'],
    min: 0,
    max: 10,
    step: 1
  };
  let taken = 1;
  while (existing.some(f => f.name === spec.name)) {
    spec.name = `variable_name${taken++}`;
  }
  let error: string | null = null;
  for (;;) {
    const result = await showDialog<INewField>({
      title: trans.__('Add new form field'),
      body: new AddFieldBody(spec, error, trans),
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Save') })
      ],
      focusNodeSelector: 'select'
    });
    if (!result.button.accept || !result.value) {
      return null;
    }
    spec = result.value;
    const problem = validateNewField(spec, existing);
    if (!problem) {
      return {
        ...spec,
        items: (spec.items ?? []).filter(i => i.trim() !== '')
      };
    }
    error = trans.__(problem);
  }
}
