import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';
import {
  IClientConfig,
  ICreatedKey,
  ISshStatus,
  copyText,
  downloadText,
  sshApi
} from './api';

interface IViewProps {
  trans: TranslationBundle;
  refreshSignal: number;
}

type Busy = '' | 'action' | 'key' | 'register' | 'whitelist';

/** A block of generated text with a copy button. */
function CopyBlock(props: {
  trans: TranslationBundle;
  title: string;
  text: string;
  id: string;
  extra?: React.ReactNode;
}): JSX.Element {
  const [copied, setCopied] = React.useState(false);
  return (
    <div className="ma-Ssh-block" data-block={props.id}>
      <div className="ma-Ssh-blockHeader">
        <span className="ma-Ssh-blockTitle">{props.title}</span>
        {props.extra}
        <button
          className="jp-Button jp-mod-styled ma-Ssh-copy"
          title={props.trans.__('Copy to the clipboard')}
          onClick={() => {
            void copyText(props.text).then(() => {
              setCopied(true);
              window.setTimeout(() => setCopied(false), 1500);
            });
          }}
        >
          {copied ? props.trans.__('Copied') : props.trans.__('Copy')}
        </button>
      </div>
      <pre className="ma-Ssh-pre">{props.text}</pre>
    </div>
  );
}

function stateLabel(trans: TranslationBundle, status: ISshStatus): string {
  switch (status.state) {
    case 'running':
      return trans.__('Running');
    case 'starting':
      return trans.__('Starting');
    case 'failed':
      return trans.__('Failed');
    case 'unavailable':
      return trans.__('Unavailable');
    default:
      return trans.__('Stopped');
  }
}

function pycharmText(trans: TranslationBundle, c: IClientConfig): string {
  const ssh = c.pycharm.ssh_configuration;
  const lines = [
    trans.__('SSH configuration'),
    `  ${trans.__('Host')}: ${ssh.host}`,
    `  ${trans.__('Port')}: ${ssh.port}`,
    `  ${trans.__('Username')}: ${ssh.username}`,
    `  ${trans.__('Authentication type')}: ${ssh.authentication_type}`,
    `  ${trans.__('Private key file')}: ${ssh.private_key_file}`
  ];
  if (ssh.parse_config_file) {
    lines.push(`  ${trans.__('Parse config file ~/.ssh/config')}: ✓`);
  }
  lines.push(trans.__('Remote interpreters (one per kernel)'));
  for (const i of c.pycharm.interpreters) {
    lines.push(`  ${i.display_name}: ${i.python}`);
  }
  lines.push(
    trans.__('Deployment (%1, root %2)', c.pycharm.deployment.type, '/')
  );
  for (const m of c.pycharm.deployment.mappings) {
    lines.push(`  ${m.local_path} -> ${m.deployment_path}`);
  }
  if (c.pycharm.note) {
    lines.push('', c.pycharm.note);
  }
  return lines.join('\n');
}

function SshView(props: IViewProps): JSX.Element {
  const { trans } = props;
  const [status, setStatus] = React.useState<ISshStatus | null>(null);
  const [config, setConfig] = React.useState<IClientConfig | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState<Busy>('');
  const [tunnel, setTunnel] = React.useState(false);
  const [configKey, setConfigKey] = React.useState('');
  const [keyName, setKeyName] = React.useState('');
  const [keyType, setKeyType] = React.useState('ed25519');
  const [keyError, setKeyError] = React.useState<string | null>(null);
  const [created, setCreated] = React.useState<ICreatedKey | null>(null);
  const [regName, setRegName] = React.useState('');
  const [regKey, setRegKey] = React.useState('');
  const [regError, setRegError] = React.useState<string | null>(null);
  const [entry, setEntry] = React.useState('');
  const [wlError, setWlError] = React.useState<string | null>(null);

  const refresh = React.useCallback(async () => {
    try {
      setStatus(await sshApi.status());
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, []);

  React.useEffect(() => {
    void refresh();
  }, [refresh, props.refreshSignal]);

  const keyNames = status?.keys.map(k => k.name).join('\n') ?? '';
  React.useEffect(() => {
    if (!status?.available) {
      return;
    }
    // Only the newest request's answer is shown (an older one may arrive later).
    let current = true;
    sshApi
      .config(tunnel, configKey)
      .then(c => current && setConfig(c))
      .catch(e => current && setError((e as Error).message));
    return () => {
      current = false;
    };
  }, [status?.available, status?.port, keyNames, tunnel, configKey]);

  const run = async (what: Busy, work: () => Promise<void>) => {
    setBusy(what);
    try {
      await work();
    } finally {
      setBusy('');
    }
  };

  const doAction = (action: 'start' | 'stop' | 'restart') =>
    run('action', async () => {
      try {
        setStatus(await sshApi.action(action));
        setError(null);
      } catch (e) {
        setError((e as Error).message);
        await refresh();
      }
    });

  const createKey = () =>
    run('key', async () => {
      const [type, bits] =
        keyType === 'ed25519'
          ? ['ed25519', null]
          : ['rsa', Number(keyType.slice(3))];
      try {
        const answer = await sshApi.createKey(keyName.trim(), type, bits);
        if (answer.private_key) {
          downloadText(`${answer.key.name}.pem`, answer.private_key);
        }
        setCreated(answer);
        setKeyError(null);
        setKeyName('');
        setConfigKey(answer.key.name);
        await refresh();
      } catch (e) {
        setKeyError((e as Error).message);
      }
    });

  const registerKey = () =>
    run('register', async () => {
      try {
        const answer = await sshApi.registerKey(regName.trim(), regKey.trim());
        setRegError(null);
        setRegName('');
        setRegKey('');
        setConfigKey(answer.key.name);
        await refresh();
      } catch (e) {
        setRegError((e as Error).message);
      }
    });

  const removeKey = (name: string) =>
    run('key', async () => {
      try {
        await sshApi.removeKey(name);
        if (configKey === name) {
          setConfigKey('');
        }
        await refresh();
      } catch (e) {
        setKeyError((e as Error).message);
      }
    });

  const saveWhitelist = (entries: string[]) =>
    run('whitelist', async () => {
      try {
        await sshApi.setWhitelist(entries);
        setWlError(null);
        setEntry('');
        await refresh();
      } catch (e) {
        setWlError((e as Error).message);
      }
    });

  if (!status) {
    return (
      <div className="ma-Ssh">
        {error ? (
          <div className="ma-Ssh-error">{error}</div>
        ) : (
          <div className="ma-Ssh-note">{trans.__('Loading…')}</div>
        )}
      </div>
    );
  }

  const running = status.state === 'running';
  return (
    <div className="ma-Ssh">
      <div className="ma-Ssh-toolbar">
        <span className="ma-Ssh-title">{trans.__('Remote SSH')}</span>
        <button
          className="jp-Button jp-mod-styled ma-Ssh-refresh"
          onClick={() => void refresh()}
          title={trans.__('Refresh')}
        >
          {trans.__('Refresh')}
        </button>
      </div>

      <section className="ma-Ssh-section">
        <div className="ma-Ssh-status">
          <span className={`ma-Ssh-state ma-mod-${status.state}`}>
            {stateLabel(trans, status)}
          </span>
          {status.available && !running && (
            <button
              className="jp-Button jp-mod-styled jp-mod-accept ma-Ssh-enable"
              disabled={busy !== ''}
              onClick={() => void doAction('start')}
            >
              {trans.__('Enable SSH')}
            </button>
          )}
          {running && (
            <>
              <button
                className="jp-Button jp-mod-styled ma-Ssh-restart"
                disabled={busy !== ''}
                onClick={() => void doAction('restart')}
              >
                {trans.__('Restart')}
              </button>
              <button
                className="jp-Button jp-mod-styled jp-mod-warn ma-Ssh-disable"
                disabled={busy !== ''}
                onClick={() => void doAction('stop')}
              >
                {trans.__('Disable')}
              </button>
            </>
          )}
        </div>
        {status.message && (
          <div className="ma-Ssh-error ma-Ssh-message">{status.message}</div>
        )}
        {status.log_tail.length > 0 && (
          <details className="ma-Ssh-log">
            <summary>{trans.__('Last lines sshd printed')}</summary>
            <pre className="ma-Ssh-pre">{status.log_tail.join('\n')}</pre>
          </details>
        )}
        {error && <div className="ma-Ssh-error">{error}</div>}
        {status.available && (
          <div className="ma-Ssh-address">
            <code>{status.address}</code>
            <button
              className="jp-Button jp-mod-styled ma-Ssh-copyAddress"
              onClick={() => void copyText(status.address)}
            >
              {trans.__('Copy')}
            </button>
          </div>
        )}
        {status.is_root && (
          <div className="ma-Ssh-note ma-Ssh-root">
            {trans.__(
              'The notebook server runs as root, so SSH logs in as root.'
            )}
          </div>
        )}
        {status.host_keys.map(h => (
          <div className="ma-Ssh-note" key={h.type}>
            {trans.__('Host key %1 %2', h.type, h.fingerprint)}
          </div>
        ))}
      </section>

      <section className="ma-Ssh-section ma-Ssh-keys">
        <h3>{trans.__('Key pairs')}</h3>
        {status.keys.length === 0 && (
          <div className="ma-Ssh-note">
            {trans.__('No key yet: create one or register your own.')}
          </div>
        )}
        <ul className="ma-Ssh-keyList">
          {status.keys.map(k => (
            <li key={k.name} className="ma-Ssh-key" data-name={k.name}>
              <span className="ma-Ssh-keyName">{k.name}</span>
              <span className="ma-Ssh-keyMeta">
                {k.type} {k.fingerprint}
              </span>
              <button
                className="jp-Button jp-mod-styled jp-mod-warn ma-Ssh-removeKey"
                disabled={busy !== ''}
                onClick={() => void removeKey(k.name)}
              >
                {trans.__('Remove')}
              </button>
            </li>
          ))}
        </ul>
        <div className="ma-Ssh-form">
          <input
            className="jp-mod-styled ma-Ssh-keyNameInput"
            placeholder={trans.__('Key name, e.g. laptop')}
            value={keyName}
            onChange={e => setKeyName(e.target.value)}
          />
          <select
            className="jp-mod-styled ma-Ssh-keyType"
            value={keyType}
            onChange={e => setKeyType(e.target.value)}
          >
            <option value="ed25519">ed25519</option>
            <option value="rsa4096">RSA 4096</option>
            <option value="rsa2048">RSA 2048</option>
          </select>
          <button
            className="jp-Button jp-mod-styled jp-mod-accept ma-Ssh-createKey"
            disabled={busy !== '' || !keyName.trim()}
            onClick={() => void createKey()}
          >
            {trans.__('Create key pair')}
          </button>
        </div>
        {keyError && <div className="ma-Ssh-error">{keyError}</div>}
        {created && (
          <div className="ma-Ssh-created">
            <div>
              {trans.__(
                'The private key %1.pem was downloaded; it is not kept on the server, so store it now (chmod 600).',
                created.key.name
              )}
            </div>
            {created.private_key_ppk && (
              <button
                className="jp-Button jp-mod-styled ma-Ssh-downloadPpk"
                onClick={() =>
                  downloadText(
                    `${created.key.name}.ppk`,
                    created.private_key_ppk ?? ''
                  )
                }
              >
                {trans.__('Download .ppk for PuTTY')}
              </button>
            )}
            {created.ppk_error && (
              <div className="ma-Ssh-note">{created.ppk_error}</div>
            )}
            <button
              className="jp-Button jp-mod-styled ma-Ssh-dismiss"
              onClick={() => setCreated(null)}
            >
              {trans.__('Done')}
            </button>
          </div>
        )}
        <details className="ma-Ssh-register">
          <summary>{trans.__('Register your own public key')}</summary>
          <input
            className="jp-mod-styled ma-Ssh-regName"
            placeholder={trans.__('Key name')}
            value={regName}
            onChange={e => setRegName(e.target.value)}
          />
          <textarea
            className="jp-mod-styled ma-Ssh-regKey"
            placeholder="ssh-ed25519 AAAA… you@laptop"
            value={regKey}
            onChange={e => setRegKey(e.target.value)}
          />
          <button
            className="jp-Button jp-mod-styled jp-mod-accept ma-Ssh-registerKey"
            disabled={busy !== '' || !regName.trim() || !regKey.trim()}
            onClick={() => void registerKey()}
          >
            {trans.__('Register')}
          </button>
          {regError && <div className="ma-Ssh-error">{regError}</div>}
        </details>
      </section>

      <section className="ma-Ssh-section ma-Ssh-whitelist">
        <h3>{trans.__('Whitelist')}</h3>
        <div className="ma-Ssh-note">
          {trans.__(
            'At most 5 IPv4 / IPv6 addresses or CIDR ranges; empty allows any address. Behind NAT the notebook must see the real client address.'
          )}
        </div>
        <ul className="ma-Ssh-wlList">
          {status.whitelist.map(w => (
            <li key={w} className="ma-Ssh-wlEntry" data-entry={w}>
              <code>{w}</code>
              <button
                className="jp-Button jp-mod-styled ma-Ssh-wlRemove"
                disabled={busy !== ''}
                onClick={() =>
                  void saveWhitelist(status.whitelist.filter(x => x !== w))
                }
              >
                {trans.__('Remove')}
              </button>
            </li>
          ))}
        </ul>
        <div className="ma-Ssh-form">
          <input
            className="jp-mod-styled ma-Ssh-wlInput"
            placeholder="203.0.113.7 or 198.51.100.0/24"
            value={entry}
            onChange={e => setEntry(e.target.value)}
            onKeyDown={e => {
              if (e.key === 'Enter' && entry.trim()) {
                void saveWhitelist([...status.whitelist, entry.trim()]);
              }
            }}
          />
          <button
            className="jp-Button jp-mod-styled ma-Ssh-wlAdd"
            disabled={busy !== '' || !entry.trim()}
            onClick={() =>
              void saveWhitelist([...status.whitelist, entry.trim()])
            }
          >
            {trans.__('Add')}
          </button>
        </div>
        {wlError && (
          <div className="ma-Ssh-error ma-Ssh-wlError">{wlError}</div>
        )}
      </section>

      {config && (
        <section className="ma-Ssh-section ma-Ssh-config">
          <h3>{trans.__('Client configuration')}</h3>
          <label className="ma-Ssh-option">
            <input
              type="checkbox"
              className="ma-Ssh-tunnel"
              checked={tunnel}
              onChange={e => setTunnel(e.target.checked)}
            />
            {trans.__(
              'Through the notebook URL (only HTTPS reachable; needs ma-cli on your machine)'
            )}
          </label>
          {status.keys.length > 1 && (
            <label className="ma-Ssh-option">
              {trans.__('Key')}{' '}
              <select
                className="jp-mod-styled ma-Ssh-configKey"
                value={config.identity_file.replace(/^.*\/|\.pem$/g, '')}
                onChange={e => setConfigKey(e.target.value)}
              >
                {status.keys.map(k => (
                  <option key={k.name} value={k.name}>
                    {k.name}
                  </option>
                ))}
              </select>
            </label>
          )}
          <CopyBlock
            trans={trans}
            id="openssh"
            title={trans.__('OpenSSH / VS Code (~/.ssh/config)')}
            text={config.openssh}
          />
          <CopyBlock
            trans={trans}
            id="vscode"
            title={trans.__('Open in VS Code')}
            text={config.vscode_url}
            extra={
              <a className="ma-Ssh-vscodeLink" href={config.vscode_url}>
                {trans.__('Open')}
              </a>
            }
          />
          {config.tunnel && (
            <CopyBlock
              trans={trans}
              id="server-file"
              title={trans.__('%1 on your machine', config.server_file)}
              text={config.server_file_example}
            />
          )}
          <CopyBlock
            trans={trans}
            id="command"
            title={trans.__('One-line ssh command')}
            text={config.ssh_command}
          />
          <CopyBlock
            trans={trans}
            id="pycharm"
            title={trans.__('PyCharm')}
            text={pycharmText(trans, config)}
          />
          {!config.tunnel && (
            <CopyBlock
              trans={trans}
              id="putty"
              title={trans.__('PuTTY saved session (.reg)')}
              text={config.putty_reg}
              extra={
                <button
                  className="jp-Button jp-mod-styled ma-Ssh-downloadReg"
                  onClick={() =>
                    downloadText(`${config.alias}.reg`, config.putty_reg)
                  }
                >
                  {trans.__('Download')}
                </button>
              }
            />
          )}
        </section>
      )}
    </div>
  );
}

/** The Remote SSH sidebar: status, keys, whitelist and client configuration. */
export class SshPanel extends ReactWidget {
  constructor(private trans: TranslationBundle) {
    super();
    this.addClass('ma-SshPanel');
  }

  /** Reload the status now. */
  refresh(): void {
    this._refreshSignal++;
    this.update();
  }

  render(): JSX.Element {
    return <SshView trans={this.trans} refreshSignal={this._refreshSignal} />;
  }

  private _refreshSignal = 0;
}
