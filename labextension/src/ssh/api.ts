import { Clipboard } from '@jupyterlab/apputils';
import { requestAPI } from '../request';

/** A registered public key. */
export interface ISshKey {
  name: string;
  type: string;
  bits: number | null;
  fingerprint: string;
  public_key: string;
  created: number;
  origin: 'created' | 'registered';
}

/** What GET ssh returns. */
export interface ISshStatus {
  available: boolean;
  state: 'unavailable' | 'stopped' | 'starting' | 'running' | 'failed';
  message: string;
  enabled: boolean;
  user: string;
  is_root: boolean;
  host: string;
  port: number;
  address: string;
  listen_port: number;
  host_keys: { type: string; fingerprint: string }[];
  keys: ISshKey[];
  whitelist: string[];
  tunnel_path: string;
  log_tail: string[];
}

/** A created key pair: the private key exists only in this answer. */
export interface ICreatedKey {
  key: ISshKey;
  private_key?: string | null;
  private_key_ppk?: string | null;
  ppk_error?: string | null;
}

/** Generated client configuration (GET ssh/config). */
export interface IClientConfig {
  alias: string;
  tunnel: boolean;
  user: string;
  host: string;
  port: number;
  identity_file: string;
  workspace: string;
  openssh: string;
  vscode_url: string;
  ssh_command: string;
  server_file: string;
  server_file_example: string;
  pycharm: {
    ssh_configuration: Record<string, string | number | boolean>;
    interpreters: { kernel: string; display_name: string; python: string }[];
    deployment: {
      type: string;
      root_path: string;
      mappings: { local_path: string; deployment_path: string }[];
    };
    note: string;
  };
  putty_reg: string;
  putty: Record<string, string | number>;
}

/** Calls of the Remote SSH REST API. */
export const sshApi = {
  status: () => requestAPI<ISshStatus>('ssh'),
  action: (action: 'start' | 'stop' | 'restart') =>
    requestAPI<ISshStatus>(`ssh/${action}`, { method: 'POST', body: '{}' }),
  createKey: (name: string, type: string, bits: number | null) =>
    requestAPI<ICreatedKey>('ssh/keys', {
      method: 'POST',
      body: JSON.stringify(bits ? { name, type, bits } : { name, type })
    }),
  registerKey: (name: string, publicKey: string) =>
    requestAPI<ICreatedKey>('ssh/keys', {
      method: 'POST',
      body: JSON.stringify({ name, public_key: publicKey })
    }),
  removeKey: (name: string) =>
    requestAPI<ISshKey>(`ssh/keys/${encodeURIComponent(name)}`, {
      method: 'DELETE'
    }),
  setWhitelist: (entries: string[]) =>
    requestAPI<{ entries: string[] }>('ssh/whitelist', {
      method: 'PUT',
      body: JSON.stringify({ entries })
    }),
  config: (tunnel: boolean, key: string) =>
    requestAPI<IClientConfig>(
      `ssh/config?tunnel=${tunnel}&key=${encodeURIComponent(key)}`
    )
};

/** Let the browser download ``text`` as a file called ``name``. */
export function downloadText(
  name: string,
  text: string,
  type = 'application/octet-stream'
): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Copy text to the system clipboard. */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    Clipboard.copyToSystem(text);
  }
}
