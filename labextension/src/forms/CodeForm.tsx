import { TranslationBundle } from '@jupyterlab/translation';
import { deleteIcon, editIcon } from '@jupyterlab/ui-components';
import * as React from 'react';
import { IFormField, IParsedForm, formatValue } from './parser';

/** What the form asks of the cell it belongs to. */
export interface ICodeFormProps {
  form: IParsedForm;
  trans: TranslationBundle;
  /** Write a field's new value into the code; returns an error when it is invalid. */
  onValue(field: IFormField, value: string | number | boolean): string | null;
  onDelete(field: IFormField): void;
  onTitle(text: string): void;
}

/** The form beside a code cell: title, markdown and one row per `#@param` field. */
export function CodeForm(props: ICodeFormProps): JSX.Element {
  const { form, trans } = props;
  return (
    <div className="ma-CodeForm-body">
      {form.elements.map(element => {
        switch (element.kind) {
          case 'title':
            return element === form.title ? (
              <FormTitle
                key={`t${element.line}`}
                text={element.text}
                trans={trans}
                onTitle={props.onTitle}
              />
            ) : null;
          case 'markdown':
            return (
              <div key={`m${element.line}`} className="ma-CodeForm-markdown">
                {element.text}
              </div>
            );
          default:
            return (
              <FieldRow
                key={`f${element.line}:${element.name}`}
                field={element}
                trans={trans}
                onValue={props.onValue}
                onDelete={props.onDelete}
              />
            );
        }
      })}
    </div>
  );
}

function FormTitle(props: {
  text: string;
  trans: TranslationBundle;
  onTitle(text: string): void;
}): JSX.Element {
  const [editing, setEditing] = React.useState(false);
  const [draft, setDraft] = React.useState(props.text);
  const commit = () => {
    setEditing(false);
    if (draft.trim() && draft !== props.text) {
      props.onTitle(draft);
    }
  };
  return (
    <div className="ma-CodeForm-title">
      {editing ? (
        <input
          className="jp-mod-styled ma-CodeForm-titleInput"
          aria-label={props.trans.__('Form title')}
          autoFocus
          value={draft}
          onChange={e => setDraft(e.target.value)}
          onBlur={commit}
          onKeyDown={e => {
            if (e.key === 'Enter') {
              commit();
            } else if (e.key === 'Escape') {
              setEditing(false);
            }
          }}
        />
      ) : (
        <span className="ma-CodeForm-titleText">{props.text}</span>
      )}
      {!editing && (
        <button
          className="jp-Button jp-mod-minimal ma-CodeForm-iconButton"
          title={props.trans.__('Edit the title')}
          aria-label={props.trans.__('Edit the title')}
          onClick={() => {
            setDraft(props.text);
            setEditing(true);
          }}
        >
          <editIcon.react tag="span" />
        </button>
      )}
    </div>
  );
}

/**
 * Keys for controls that use arrows and space: the notebook's command-mode shortcuts
 * (ArrowRight, ArrowDown, Space ...) would take them otherwise.
 */
const OWN_KEYS = { 'data-lm-suppress-shortcuts': 'true' };

/** The form's text for a field's current value. */
function shown(field: IFormField): string {
  return typeof field.value === 'string' ? field.value : String(field.value);
}

function FieldRow(props: {
  field: IFormField;
  trans: TranslationBundle;
  onValue(field: IFormField, value: string | number | boolean): string | null;
  onDelete(field: IFormField): void;
}): JSX.Element {
  const { field, trans } = props;
  // What the user typed; kept while it is invalid, replaced when the code changes.
  const [draft, setDraft] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const codeValue = React.useRef(field.valueSource);
  if (codeValue.current !== field.valueSource) {
    codeValue.current = field.valueSource;
    if (draft !== null) {
      const written = formatValue(field, draft);
      if (!written.ok || written.source !== field.valueSource) {
        setDraft(null);
        setError(null);
      }
    }
  }
  const change = (value: string | number | boolean) => {
    if (typeof value === 'string') {
      setDraft(value);
    }
    const problem = props.onValue(field, value);
    setError(problem);
  };
  const id = `ma-form-${field.line}-${field.name}`;
  const text = draft ?? shown(field);
  let control: JSX.Element;
  if (field.fieldKind === 'dropdown' && !field.allowInput) {
    const items = field.items ?? [];
    const current =
      field.type === 'raw' ? field.valueSource.trim() : shown(field);
    control = (
      <select
        {...OWN_KEYS}
        id={id}
        className="jp-mod-styled ma-CodeForm-input"
        value={items.includes(current) ? current : ''}
        onChange={e => change(e.target.value)}
      >
        {!items.includes(current) && (
          <option value="" disabled>
            {current}
          </option>
        )}
        {items.map(item => (
          <option key={item} value={item}>
            {item}
          </option>
        ))}
      </select>
    );
  } else if (field.fieldKind === 'dropdown') {
    control = (
      <>
        <input
          id={id}
          className="jp-mod-styled ma-CodeForm-input"
          list={`${id}-items`}
          value={text}
          onChange={e => change(e.target.value)}
        />
        <datalist id={`${id}-items`}>
          {(field.items ?? []).map(item => (
            <option key={item} value={item} />
          ))}
        </datalist>
      </>
    );
  } else if (field.fieldKind === 'slider') {
    const value = typeof field.value === 'number' ? field.value : field.min;
    control = (
      <>
        <input
          {...OWN_KEYS}
          id={id}
          type="range"
          className="ma-CodeForm-slider"
          min={field.min}
          max={field.max}
          step={field.step}
          value={value}
          onChange={e => change(Number(e.target.value))}
        />
        <span className="ma-CodeForm-sliderValue">{shown(field)}</span>
      </>
    );
  } else if (field.type === 'boolean') {
    control = (
      <input
        {...OWN_KEYS}
        id={id}
        type="checkbox"
        className="ma-CodeForm-checkbox"
        checked={field.value === true}
        onChange={e => change(e.target.checked)}
      />
    );
  } else if (field.type === 'date') {
    control = (
      <input
        id={id}
        type="date"
        className="jp-mod-styled ma-CodeForm-input"
        value={text}
        onChange={e => change(e.target.value)}
      />
    );
  } else {
    control = (
      <input
        id={id}
        className="jp-mod-styled ma-CodeForm-input"
        placeholder={
          field.placeholder ?? trans.__('please input %1 here', field.type)
        }
        value={text}
        onChange={e => change(e.target.value)}
      />
    );
  }
  return (
    <div className="ma-CodeForm-field" data-field={field.name}>
      <label htmlFor={id} className="ma-CodeForm-label">
        {field.name}:
      </label>
      <div className="ma-CodeForm-control">
        {control}
        {error && (
          <div className="ma-CodeForm-error" role="alert">
            {error}
          </div>
        )}
      </div>
      <button
        className="jp-Button jp-mod-minimal ma-CodeForm-iconButton"
        title={trans.__('Delete the field %1', field.name)}
        aria-label={trans.__('Delete the field %1', field.name)}
        onClick={() => props.onDelete(field)}
      >
        <deleteIcon.react tag="span" />
      </button>
    </div>
  );
}
