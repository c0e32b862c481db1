import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import {
  ISample,
  MonitorModel,
  formatCountdown,
  formatMemory,
  renewLease
} from './model';

const SVG_NS = 'http://www.w3.org/2000/svg';
const WINDOW_SECONDS = 60;

/** A line chart of one series over the last 60 s, 0-100 %. */
class Chart {
  constructor(
    parent: HTMLElement,
    readonly kind: 'cpu' | 'memory',
    title: string
  ) {
    const box = document.createElement('div');
    box.className = `ma-MonitorChart ma-MonitorChart-${kind}`;
    this.label = document.createElement('div');
    this.label.className = 'ma-MonitorChart-label';
    this.label.textContent = title;
    this.svg = document.createElementNS(SVG_NS, 'svg');
    this.svg.setAttribute('viewBox', '0 0 600 100');
    this.svg.setAttribute('preserveAspectRatio', 'none');
    this.line = document.createElementNS(SVG_NS, 'polyline');
    this.line.setAttribute('class', 'ma-MonitorChart-line');
    this.svg.appendChild(this.line);
    box.append(this.label, this.svg);
    parent.appendChild(box);
  }

  update(samples: ISample[], value: (s: ISample) => number, text: string) {
    this.label.textContent = text;
    if (samples.length === 0) {
      this.line.setAttribute('points', '');
      return;
    }
    const end = samples[samples.length - 1].time;
    const points = samples
      .filter(s => end - s.time <= WINDOW_SECONDS)
      .map(s => {
        const x = 600 - ((end - s.time) / WINDOW_SECONDS) * 600;
        const y = 100 - Math.min(100, Math.max(0, value(s)));
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      });
    if (points.length === 1) {
      points.unshift(`0,${points[0].split(',')[1]}`);
    }
    this.line.setAttribute('points', points.join(' '));
    this.line.dataset.count = String(points.length);
  }

  readonly label: HTMLDivElement;
  readonly svg: SVGSVGElement;
  readonly line: SVGPolylineElement;
}

/** The Resource Monitor side panel: flavor, CPU and memory charts, kernels, cache. */
export class ResourcePanel extends Widget {
  constructor(
    readonly model: MonitorModel,
    readonly trans: TranslationBundle
  ) {
    super();
    this.addClass('ma-ResourcePanel');
    const title = document.createElement('div');
    title.className = 'ma-ResourcePanel-title';
    title.textContent = trans.__('Resource Monitor');
    this.flavor = document.createElement('div');
    this.flavor.className = 'ma-ResourcePanel-flavor';
    this.node.append(title, this.flavor);
    this.cpu = new Chart(this.node, 'cpu', trans.__('CPU'));
    this.memory = new Chart(this.node, 'memory', trans.__('Memory'));
    this.extra = document.createElement('div');
    this.extra.className = 'ma-ResourcePanel-extra';
    this.node.appendChild(this.extra);
    model.changed.connect(this.render, this);
  }

  render(): void {
    const snap = this.model.snapshot;
    if (!snap) {
      return;
    }
    const t = this.trans;
    this.flavor.textContent = snap.flavor.label;
    const l = snap.latest;
    this.cpu.update(
      snap.samples,
      s => s.cpu_percent,
      t.__('CPU %1% of %2 vCPUs', l.cpu_percent.toFixed(1), l.cpu_limit)
    );
    this.memory.update(
      snap.samples,
      s => s.memory_percent,
      t.__(
        'Memory %1 / %2 (%3%)',
        formatMemory(l.memory_used),
        formatMemory(l.memory_limit),
        l.memory_percent.toFixed(1)
      )
    );
    const lines: string[] = [];
    for (const k of snap.kernels) {
      lines.push(
        t.__(
          'Kernel %1 (%2): CPU %3%, %4',
          k.name,
          k.execution_state,
          k.cpu_percent.toFixed(0),
          formatMemory(k.memory_bytes)
        )
      );
    }
    for (const g of snap.gpus) {
      lines.push(
        t.__(
          'GPU %1 %2: %3%, %4 / %5',
          g.index,
          g.name,
          g.util_percent.toFixed(0),
          formatMemory(g.memory_used),
          formatMemory(g.memory_total)
        )
      );
    }
    if (snap.cache.available) {
      lines.push(
        t.__(
          'Cache %1: %2 / %3 (%4%)',
          snap.cache.path,
          formatMemory(snap.cache.size_bytes),
          formatMemory(snap.cache.capacity_bytes),
          (snap.cache.util * 100).toFixed(1)
        )
      );
    }
    this.extra.replaceChildren(
      ...lines.map(text => {
        const div = document.createElement('div');
        div.textContent = text;
        return div;
      })
    );
  }

  readonly flavor: HTMLDivElement;
  readonly cpu: Chart;
  readonly memory: Chart;
  readonly extra: HTMLDivElement;
}

/** The status bar item "CPU x% | Mem used / limit". */
export class ResourceStatus extends Widget {
  constructor(
    readonly model: MonitorModel,
    readonly trans: TranslationBundle,
    onClick: () => void
  ) {
    super();
    this.addClass('ma-ResourceStatus');
    this.node.textContent = trans.__('CPU … | Mem …');
    this.node.title = trans.__('Open the Resource Monitor');
    this.node.addEventListener('click', onClick);
    model.changed.connect(this.render, this);
  }

  render(): void {
    const snap = this.model.snapshot;
    if (!snap) {
      return;
    }
    const l = snap.latest;
    this.node.textContent = this.trans.__(
      'CPU %1% | Mem %2 / %3',
      l.cpu_percent.toFixed(0),
      formatMemory(l.memory_used),
      formatMemory(l.memory_limit)
    );
  }
}

/** A body for the renew dialog: 1, 2, 4, 6 hours or a custom 1-72. */
class RenewBody extends Widget {
  constructor(trans: TranslationBundle, min: number, max: number) {
    super();
    this.addClass('ma-RenewDialog');
    const text = document.createElement('p');
    text.textContent = trans.__('Auto-stop time (hours from now)');
    this.select = document.createElement('select');
    this.select.className = 'ma-RenewDialog-select';
    for (const h of [1, 2, 4, 6]) {
      const o = document.createElement('option');
      o.value = String(h);
      o.textContent = h === 1 ? trans.__('1 hour') : trans.__('%1 hours', h);
      this.select.appendChild(o);
    }
    const custom = document.createElement('option');
    custom.value = 'custom';
    custom.textContent = trans.__('Custom');
    this.select.appendChild(custom);
    this.custom = document.createElement('input');
    this.custom.type = 'number';
    this.custom.min = String(min);
    this.custom.max = String(max);
    this.custom.step = '1';
    this.custom.value = '8';
    this.custom.className = 'ma-RenewDialog-custom';
    this.custom.placeholder = trans.__('%1-%2', min, max);
    this.custom.style.display = 'none';
    this.select.addEventListener('change', () => {
      this.custom.style.display =
        this.select.value === 'custom' ? 'inline-block' : 'none';
    });
    this.node.append(text, this.select, this.custom);
  }

  getValue(): number {
    return this.select.value === 'custom'
      ? Number(this.custom.value)
      : Number(this.select.value);
  }

  readonly select: HTMLSelectElement;
  readonly custom: HTMLInputElement;
}

/** Open "Update auto-stop time"; renews the lease and returns the new deadline. */
export async function openRenewDialog(
  trans: TranslationBundle,
  limits: { min: number; max: number } = { min: 1, max: 72 }
): Promise<number | null> {
  const body = new RenewBody(trans, limits.min, limits.max);
  const result = await showDialog({
    title: trans.__('Update auto-stop time'),
    body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('OK') })
    ]
  });
  if (!result.button.accept || result.value === null) {
    return null;
  }
  const hours = result.value as number;
  const lease = await renewLease(hours);
  return lease.deadline;
}

/** The top-bar auto-stop countdown; clicking it opens the renew dialog. */
export class CountdownWidget extends Widget {
  constructor(
    readonly trans: TranslationBundle,
    readonly onRenew: () => void
  ) {
    super();
    this.addClass('ma-AutoStopCountdown');
    this.node.title = trans.__('Click to update the auto-stop time');
    this.node.addEventListener('click', () => this.onRenew());
    this._timer = window.setInterval(() => this.render(), 1000);
    this.hide();
  }

  /** Set the deadline (epoch seconds), or null when auto-stop is off. */
  set deadline(value: number | null) {
    this._deadline = value;
    this.render();
  }

  get deadline(): number | null {
    return this._deadline;
  }

  render(): void {
    if (this._deadline === null) {
      this.hide();
      return;
    }
    this.show();
    const left = this._deadline - Date.now() / 1000;
    this.node.textContent = this.trans.__(
      'Auto stop in %1',
      formatCountdown(left)
    );
    this.node.dataset.remaining = String(Math.round(left));
  }

  dispose(): void {
    window.clearInterval(this._timer);
    super.dispose();
  }

  private _deadline: number | null = null;
  private _timer: number;
}
