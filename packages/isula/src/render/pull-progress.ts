import type { MultiBar, SingleBar } from 'cli-progress';

interface Progress {
  id: string;
  status: string;
  current?: number;
  total?: number;
}

/**
 * Pull progress on stderr: one bar per layer when stderr is a terminal, otherwise one plain line
 * per status change (never a line per chunk, so logs stay readable).
 */
export class PullProgressView {
  private readonly lastStatus = new Map<string, string>();
  private multibar: MultiBar | undefined;
  private readonly bars = new Map<string, SingleBar>();

  constructor(private readonly stderr: NodeJS.WriteStream) {}

  private async bar(id: string, total: number): Promise<SingleBar> {
    if (!this.multibar) {
      const { MultiBar: MB, Presets } = await import('cli-progress');
      this.multibar = new MB({ stream: this.stderr, format: '{id}: {status} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: false }, Presets.shades_classic);
    }
    let b = this.bars.get(id);
    if (!b) {
      b = this.multibar.create(Math.max(total, 1), 0, { id, status: 'Waiting' });
      this.bars.set(id, b);
    }
    return b;
  }

  async update(p: Progress): Promise<void> {
    if (this.stderr.isTTY) {
      const b = await this.bar(p.id, p.total ?? 1);
      if (p.total) b.setTotal(p.total);
      b.update(p.current ?? (p.status.endsWith('complete') || p.status === 'Already exists' ? b.getTotal() : 0), { status: p.status });
      return;
    }
    if (this.lastStatus.get(p.id) === p.status) return;
    this.lastStatus.set(p.id, p.status);
    this.stderr.write(`${p.id}: ${p.status}\n`);
  }

  stop(): void {
    this.multibar?.stop();
  }
}
